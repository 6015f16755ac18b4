"""Platform ids as they may enter jifen: short printable ASCII, checked at the edge.

Every id a platform sends (message ids, user ids, card ids) ends up in a dedupe key or an
indexed column of bounded width (``String(64)``/``String(200)``). An over-long or odd value is
not a real id — WeCom userids are 1–64 bytes of ``[A-Za-z0-9_.@-]``, WeCom MsgIds are 64-bit
integers, DingTalk ids are short base64-ish strings — so it is refused here (a 4xx, or dropped
and logged on a socket) rather than failing in the database with a ``DataError``.
"""

from __future__ import annotations

MAX_USER_ID = 64  # Employee.wecom_userid / dingtalk_userid are String(64)
MAX_ID = 120  # message/event ids: "evt:<platform>:" + id + outbox suffixes stays under 200


def valid_id(value: object, limit: int = MAX_ID) -> bool:
    """A non-empty string of at most ``limit`` printable ASCII characters without spaces."""
    # printable ASCII is "!".."~" and the space: str methods in C, where a loop over the
    # characters cost ~20 Python steps per id
    return (isinstance(value, str) and 0 < len(value) <= limit and value.isascii()
            and value.isprintable() and " " not in value)
