"""The one string table: every user-facing sentence, Chinese and English, looked up one way.

``t(locale, key, **params)`` is the only lookup. The table is split by area (``chat``, ``errors``,
``cards``, ``web``) so wording can be reviewed where it is used; keys are unique across areas and
each entry is a ``(zh, en)`` pair, so a sentence cannot exist in one language only.
"""

from __future__ import annotations

from typing import Literal

from cards.texts import cards, chat, errors, problems, web
from core.errors import BadOrderState, CoreError, InvalidInput
from core.problems import CellProblem

Locale = Literal["zh", "en"]
LOCALES: tuple[Locale, ...] = ("zh", "en")
AREAS: dict[str, dict[str, tuple[str, str]]] = {
    "chat": chat.TEXTS, "errors": errors.TEXTS, "cards": cards.TEXTS, "web": web.TEXTS}


def _merge(areas: dict[str, dict[str, tuple[str, str]]]) -> dict[str, tuple[str, str]]:
    """All areas in one dict; a key defined twice would silently shadow another, so it is refused."""
    merged: dict[str, tuple[str, str]] = {}
    for name, table in areas.items():
        clash = merged.keys() & table.keys()
        if clash:
            raise ValueError(f"string keys defined twice ({name}): {sorted(clash)}")
        merged.update(table)
    return merged


TEXTS: dict[str, tuple[str, str]] = _merge(AREAS)


class _Blank(dict[str, object]):
    """Format parameters where a missing one reads as nothing (an optional department, say)."""

    def __missing__(self, key: str) -> str:
        return ""


def locale_of(value: str | None) -> Locale:
    """An employee's stored locale (``en``, ``en-US``, ``zh_CN``, None) as one of ours; zh by default."""
    return "en" if (value or "").lower().startswith("en") else "zh"


def has(key: str) -> bool:
    return key in TEXTS


def t(locale: Locale, key: str, **params: object) -> str:
    """The ``key`` string in ``locale`` with ``params`` filled in (missing ones blank)."""
    zh, en = TEXTS[key]
    return (en if locale == "en" else zh).format_map(_Blank(params))


def error_text(locale: Locale, exc: CoreError) -> str:
    """One short sentence for a refused action; never its code (unknown codes read as a generic one)."""
    params = dict(exc.params)
    if "candidates" in params:
        params["candidates"] = "；".join(
            f"{c.name}（{c.department}，{c.employee_id}）" for c in params["candidates"])
    for name, value in params.items():  # a list of names reads as one ("A、B" / "A, B")
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            params[name] = t(locale, "list_sep").join(value) or "-"
    if isinstance(exc, InvalidInput) and (exc.problem is not None or exc.problems):
        return input_text(locale, exc)
    code = exc.code
    if isinstance(exc, BadOrderState):  # the state in words, and what it stops ("不能取消")
        params["status"] = t(locale, f"status_{exc.status}") if has(f"status_{exc.status}") else ""
        code = f"{code}_{exc.action}" if has(f"{code}_{exc.action}") else code
    return t(locale, code, **params) if has(code) else t(locale, "internal_error")


def problem_text(locale: Locale, problem: CellProblem) -> str:
    """``points: 'abc' is not a positive whole number`` / ``points：「abc」不是正整数``."""
    if locale == "en":
        return problem.english
    text = problems.ZH[problem.kind].format(column=problem.column, **dict(problem.params))
    column = problems.COLUMNS_ZH.get(problem.column or "", problem.column)
    return f"{column}：{text}" if column else text


def input_text(locale: Locale, exc: InvalidInput) -> str:
    """An imported file's refusal: its line and problem, or every bad row it names."""
    def one(row: InvalidInput) -> str:
        said = problem_text(locale, row.problem) if row.problem else row.message
        return t(locale, "file_line", line=row.line, text=said) if row.line else said

    if len(exc.problems) > 1:
        listed = t(locale, "file_lines_sep").join(one(row) for row in exc.problems)
        return t(locale, "file_rows", rows=len({row.line for row in exc.problems}), listed=listed)
    return one(exc)


def reply_hint(locale: Locale, commands: list[str]) -> str | None:
    """``或回复：同意 A12 / 拒绝 A12`` for the given fallback commands (None if there are none)."""
    if not commands:
        return None
    return t(locale, "reply_hint", commands=t(locale, "or").join(commands))
