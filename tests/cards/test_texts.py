"""The one string table: both languages for every key, and every refusal readable."""

from __future__ import annotations

import re

import pytest

from cards.texts import AREAS, LOCALES, TEXTS, error_text, locale_of, t
from core import errors


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
