"""Pure award rules: hashtag parsing and reason/value checks (no database)."""

from __future__ import annotations

import re
import unicodedata

from core import errors
from core.policy import AwardPolicy

# ``\w`` covers CJK, so "#团队合作，谢谢" yields 团队合作 and stops at the full-width comma.
_HASHTAG = re.compile(r"[#＃](\w+)")


def hashtags(reason: str) -> list[str]:
    """Distinct hashtags in order of appearance, without the ``#``."""
    seen: list[str] = []
    for tag in _HASHTAG.findall(reason):
        if tag not in seen:
            seen.append(tag)
    return seen


def reason_text(reason: str) -> str:
    """The reason without its hashtags, for the minimum-length rule."""
    return " ".join(_HASHTAG.sub(" ", reason).split())


def check_reason(reason: str, policy: AwardPolicy) -> list[str]:
    """Validate the reason and return its company-value hashtags (canonical spelling).

    Raises ReasonTooShort, ReasonTooLong, ValueRequired or UnknownValue.
    """
    if len(reason_text(reason)) < policy.min_reason_length:
        raise errors.ReasonTooShort(min=policy.min_reason_length)
    if len(reason) > errors.MAX_REASON_LENGTH:
        raise errors.ReasonTooLong(max=errors.MAX_REASON_LENGTH, length=len(reason))
    tags = hashtags(reason)
    if policy.require_value and not tags:
        raise errors.ValueRequired(values=" ".join(f"#{v}" for v in policy.values))
    if not policy.values:
        return tags
    known = {v.casefold(): v for v in policy.values}
    for tag in tags:
        if tag.casefold() not in known:
            raise errors.UnknownValue(value=tag, values=" ".join(f"#{v}" for v in policy.values))
    return [known[t.casefold()] for t in tags]


_AWARD_ID = re.compile(r"[Zz]?(\d{1,9})", re.ASCII)


def parse_award_id(text: str | int) -> int:
    """``Z12``, ``z12``, ``Ｚ１２`` (full width) or ``12`` → 12; anything else UnknownAward."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text > 0:
            return text
        raise errors.UnknownAward(id=str(text))
    match = _AWARD_ID.fullmatch(unicodedata.normalize("NFKC", str(text)).strip())
    if match is None or int(match.group(1)) == 0:
        raise errors.UnknownAward(id=str(text))
    return int(match.group(1))


def join_amount(original: int, requested: int | None, policy: AwardPolicy) -> int:
    """A +1's amount: as asked, else the original's, capped at the approval threshold (so a
    plain +1 never needs an approval)."""
    if requested is not None:
        return requested
    cap = policy.approval_threshold
    return min(original, cap) if cap > 0 else original
