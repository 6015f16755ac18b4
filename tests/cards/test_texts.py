"""The one string table: both languages for every key, and every refusal readable."""

from __future__ import annotations

import re

import pytest

from cards.texts import AREAS, LOCALES, TEXTS, error_text, locale_of, t
from cards.texts.problems import ZH as PROBLEMS_ZH
from config.catalog_file import parse_catalog
from core import errors
from core.directory.importer import parse_directory_csv
from core.hr.service import parse_grants_csv
from core.problems import PROBLEMS


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)", text))


def test_zh_and_en_have_the_same_keys_and_placeholders() -> None:
    zh = {key: pair[0] for key, pair in TEXTS.items()}
    en = {key: pair[1] for key, pair in TEXTS.items()}
    assert zh.keys() == en.keys() == TEXTS.keys()
    for key in TEXTS:
        assert zh[key].strip(" ") and en[key].strip(" ") or key in ("or",), key
        assert _placeholders(zh[key]) == _placeholders(en[key]), key


def test_no_key_is_defined_in_two_areas() -> None:
    assert sum(len(area) for area in AREAS.values()) == len(TEXTS)


def test_one_lookup_for_every_area() -> None:
    assert t("zh", "not_enrolled").startswith("你还没有")          # chat
    assert t("en", "balance.title") == "My points"                  # cards
    assert t("en", "nav_orders") == "Orders"                        # web
    assert t("zh", "n_points", n=5) == "5 分"
    assert t("zh", "leaderboard_title", period="本月") == "本月排行榜"  # a missing part reads as nothing


@pytest.mark.parametrize(("stored", "locale"), [("en", "en"), ("en-US", "en"), ("EN_gb", "en"),
                                                ("zh_CN", "zh"), ("", "zh"), (None, "zh")])
def test_an_employees_locale_is_one_of_ours(stored: str | None, locale: str) -> None:
    assert locale_of(stored) == locale and locale in LOCALES


def _all(cls: type[errors.CoreError]) -> list[type[errors.CoreError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_all(sub))]


@pytest.mark.parametrize("cls", _all(errors.CoreError), ids=lambda c: c.__name__)
def test_every_core_error_code_has_a_sentence_in_both_languages(
    cls: type[errors.CoreError],
) -> None:
    zh, en = TEXTS[cls.code]
    assert zh and en and cls.code not in zh + en


def test_a_refusal_reads_as_a_sentence() -> None:
    exc = errors.UnknownEmployee(who="E999")
    assert error_text("en", exc) == "No colleague found: E999"
    assert error_text("zh", exc) == "找不到同事：E999"
    assert "no_recipients" not in error_text("zh", errors.NoRecipients())


@pytest.mark.parametrize("cls", _all(errors.CoreError), ids=lambda c: c.__name__)
def test_no_chinese_refusal_carries_english_words(cls: type[errors.CoreError]) -> None:
    # names a Chinese user types or reads as such: HR, the month format, the policy file's keys
    allowed = {"HR", "YYYY", "MM", "policy", "yaml", "broadcast", "targets"}
    zh = re.sub(r"{\w+}", "", TEXTS[cls.code][0])
    assert set(re.findall(r"[A-Za-z]{2,}", zh)) <= allowed, zh


@pytest.mark.parametrize(("exc", "zh", "en"), [
    (errors.InvalidMonth(text="2026-13"), "「2026-13」不是月份，请写成 YYYY-MM，例如 2026-03。",
     "'2026-13' is not a month (YYYY-MM), e.g. 2026-03."),
    (errors.ReasonRequired(), "请写上原因。", "A reason is required."),
    (errors.UnknownBroadcastTarget(target="x", targets=["全员群", "研发群"]),
     "没有名为 x 的广播目标。可用：全员群、研发群", "No broadcast target x. Known: 全员群, 研发群"),
    (errors.TextTooLong(max=2000, length=2100), "内容最多 2000 个字（现在 2100 个）。",
     "The text can be at most 2000 characters (this one has 2100)."),
    (errors.ExpiryInPast(), "过期时间必须晚于现在。", "The expiry must be in the future."),
    (errors.NotACodeItem(sku="CUP01"), "CUP01 不是券码类商品，不能添加券码。",
     "CUP01 is not an item of kind code; codes cannot be added."),
    (errors.InvalidCodes(max=200), "请至少提供 1 个券码，每个最多 200 个字符。",
     "Give 1 or more codes of at most 200 characters."),
])
def test_typed_input_refusals_read_whole_in_each_language(
    exc: errors.CoreError, zh: str, en: str,
) -> None:
    assert (error_text("zh", exc), error_text("en", exc)) == (zh, en)


def test_every_kind_of_file_problem_reads_in_chinese_without_english_words() -> None:
    allowed = {"CSV", "YAML", "YYYY", "MM", "DD", "items", "code", "available", "from"}  # names
    assert PROBLEMS_ZH.keys() == PROBLEMS.keys()
    for kind, en in PROBLEMS.items():
        zh = PROBLEMS_ZH[kind]
        # the same values fill both (the English shows the cell with quotes: {value!r})
        assert set(re.findall(r"{(\w+)", zh)) <= set(re.findall(r"{(\w+)", en)) | {"column"}, kind
        assert set(re.findall(r"[A-Za-z]{2,}", re.sub(r"{\w+}", "", zh))) <= allowed, zh


@pytest.mark.parametrize(("text", "zh", "en"), [
    ("employee_id,points,reason\nE1,abc,好\n",
     "第 2 行：points：「abc」不是正整数", "line 2: points: 'abc' is not a positive whole number"),
    ("employee_id,points\nE1,1\n",
     "第 1 行：表头：缺少必需的列 reason", "line 1: header: required column reason is missing"),
    ("employee_id,points,reason,key\nE1,1,a,k\nE2,1,b,k\n",
     "第 3 行：key：「k」已在第 2 行用过", "line 3: key: 'k' already used on line 2"),
    ("employee_id,points,reason,expires_at\nE1,1,a,2026-02-30\n",
     "第 2 行：expires_at：「2026-02-30」不是日期（YYYY-MM-DD）",
     "line 2: expires_at: '2026-02-30' is not a date (YYYY-MM-DD)"),
    ("employee_id,points,reason\nE1,1,a,extra\n",
     "第 2 行：这一行有 4 格，表头只有 3 格", "line 2: row has 4 cells, header has 3"),
])
def test_a_bad_grants_file_is_refused_in_the_readers_language(text: str, zh: str, en: str) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        parse_grants_csv(text)
    assert (error_text("zh", refused.value), error_text("en", refused.value)) == (zh, en)
    assert refused.value.message == en.split(": ", 1)[1]  # the CLI's sentence is unchanged


def test_a_directory_file_names_every_bad_row_in_the_readers_language() -> None:
    csv = "employee_id,name,roles,locale\nE1,,,\nE2,乙,boss,\nE3,丙,,fr\n"
    with pytest.raises(errors.InvalidInput) as refused:
        parse_directory_csv(csv)
    assert error_text("zh", refused.value) == (
        "3 行有问题：第 2 行：name：必须填写；第 3 行：roles：没有「boss」这个角色（可选：employee|"
        "manager|hr|admin）；第 4 行：locale：「fr」不在可选值之中（zh|en）")
    assert error_text("en", refused.value) == refused.value.message == (
        "3 rows have problems: line 2: name: is required; line 3: roles: unknown role 'boss' "
        "(one of employee|manager|hr|admin); line 4: locale: 'fr' is not one of zh|en")


@pytest.mark.parametrize(("text", "fmt", "zh", "en"), [
    ("sku,name,points\nT-N,新,10\nT-X,坏,lots\n", "csv",
     "第 3 行：points：「lots」不是整数", "line 3: points: 'lots' is not a whole number"),
    ("items:\n  - sku: A1\n    name: x\n    points: 0\n", "yaml",
     "第 4 行：points：「0」不是正整数", "line 4: points: '0' is not a positive whole number"),
    ("sku,name,points,kind\nA,x,1,gift\n", "csv",
     "第 2 行：kind：「gift」不在可选值之中（physical|code|leave|service）",
     "line 2: kind: 'gift' is not one of physical|code|leave|service"),
    ("items:\n  - {sku: A1, name: x, points: 1, available_from: 2026-05-01, "
     "available_until: 2026-04-01}\n", "yaml",
     "第 2 行：available_until：必须晚于 available_from",
     "line 2: available_until: must be after available_from"),
    ("items: [oops\n", "yaml", "第 2 行：文件：不是有效的 YAML（expected ',' or ']', but got '<stream end>'）",
     "line 2: file: not valid YAML (expected ',' or ']', but got '<stream end>')"),
])
def test_a_bad_catalog_file_is_refused_in_the_readers_language(text: str, fmt: str, zh: str,
                                                                en: str) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        parse_catalog(text, fmt=fmt)
    assert (error_text("zh", refused.value), error_text("en", refused.value)) == (zh, en)
