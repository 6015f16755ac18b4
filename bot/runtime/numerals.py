"""Amounts as people type them: 10, １０, 10分, 十, 二十, 一百五十, 两百分."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_AMOUNT = re.compile(r"^([0-9]+|[零〇一二两三四五六七八九十百千万]+)(积分|分|点|points?|pts?)?$", re.I)
# a unit typed as its own word after the number: "10 分", "10 积分", "10 points"
UNIT_WORD = re.compile(r"^(积分|分|点|points?|pts?)$", re.I)
# digits glued to a Chinese unit and the reason: "10分谢谢帮忙". Only digits: "十分感谢" is
# "many thanks", not ten points.
_GLUED = re.compile(r"^([0-9]+)(积分|分|点)(\S+)$")


def chinese_to_int(text: str) -> int | None:
    """Simple Chinese numerals up to 99,999,999 (十 = 10, 二十 = 20, 一百五十 = 150, 一万 = 10000)."""
    if not text or any(ch not in _DIGITS and ch not in _UNITS and ch != "万" for ch in text):
        return None
    if "万" in text:
        high, _, low = text.partition("万")
        h = chinese_to_int(high) if high else 1
        rest = chinese_to_int(low) if low else 0
        return None if h is None or rest is None else h * 10000 + rest
    total, digit = 0, None
    for ch in text:
        if ch in "零〇":  # a place holder, as in 一百零五
            continue
        if ch in _DIGITS:
            if digit is not None:  # two digits in a row ("一二") is not a numeral we accept
                return None
            digit = _DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
    return total + (digit or 0)


def parse_amount(token: str) -> int | None:
    """The integer a token stands for, or None if it is not an amount."""
    m = _AMOUNT.match(token.strip())
    if not m:
        return None
    number = m.group(1)
    return int(number) if number.isdigit() else chinese_to_int(number)


def split_glued(token: str) -> tuple[int, str] | None:
    """``10分谢谢`` -> (10, "谢谢"): an amount written together with the start of the reason."""
    m = _GLUED.match(token.strip())
    return (int(m.group(1)), m.group(3)) if m else None
