"""Platform ids accepted at the edge: 1..limit characters, each printable ASCII other than the
space (``!`` to ``~``); anything else — spaces, control characters, DEL, non-ASCII, over-long,
empty, not a string — is refused."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.ids import MAX_USER_ID, valid_id


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.characters(min_codepoint=0, max_codepoint=0x3000), max_size=70),
       limit=st.sampled_from([MAX_USER_ID, 8]))
def test_an_id_is_short_printable_ascii_without_spaces(value: str, limit: int) -> None:
    expected = 0 < len(value) <= limit and all(0x21 <= ord(ch) <= 0x7E for ch in value)
    assert valid_id(value, limit) is expected


def test_the_edges_of_the_range() -> None:
    assert valid_id("!~azAZ09_.@-")
    for bad in ("", " ", "a b", "a\tb", "a\x7f", "a\x00", "张三", "é", "a" * 121):
        assert not valid_id(bad), bad
    assert valid_id("a" * 120) and not valid_id(None) and not valid_id(12345)
