"""Every refusal the core can raise has a sentence in Chinese and English."""

from __future__ import annotations

import pytest

from bot.messages import TEXTS, error_text
from core import errors


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
    assert error_text(exc, "en") == "No colleague found: E999"
    assert error_text(exc, "zh") == "找不到同事：E999"
    assert "no_recipients" not in error_text(errors.NoRecipients(), "zh")
