"""DingTalk signatures (pure; platforms.md §2.7 custom robot 加签, §2.8 HTTP-mode callback).

Both schemes sign the same string, ``f"{timestamp}\\n{secret}"`` with HmacSHA256 keyed by the
secret, base64-encoded; the custom robot additionally URL-encodes it into the webhook query. The
HTTP-mode signature covers only the timestamp, not the body: it proves the sender knows the
AppSecret and bounds replays to the ±1 h window, nothing more (dedupe by ``msgId`` does the rest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

MAX_SKEW_MS = 60 * 60 * 1000  # "|now − timestamp| ≤ 1 h" (§2.7, §2.8)


def now_ms() -> int:
    return int(time.time() * 1000)


def sign(timestamp: int | str, secret: str) -> str:
    """``base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`` (not URL-encoded)."""
    message = f"{timestamp}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_callback(timestamp: str | None, signature: str | None, app_secret: str, *,
                    now: int | None = None) -> bool:
    """True iff the HTTP-mode headers ``timestamp`` (ms) and ``sign`` are fresh and match."""
    # isascii(): "²".isdigit() is True but int("²") raises (the probe's 500); 16 digits of ms
    # reach the year 2286, so anything longer is not a timestamp
    if not (timestamp and signature and timestamp.isascii() and timestamp.isdigit()
            and len(timestamp) <= 16):
        return False
    current = now_ms() if now is None else now
    if abs(current - int(timestamp)) > MAX_SKEW_MS:
        return False
    expected = sign(timestamp, app_secret)
    return hmac.compare_digest(expected.encode(), signature.encode())


def signed_webhook_url(url: str, secret: str, *, now: int | None = None) -> str:
    """The custom robot URL with ``&timestamp=…&sign=…`` appended (``?`` if it has no query)."""
    ts = now_ms() if now is None else now
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={ts}&sign={quote_plus(sign(ts, secret))}"
