"""DingTalk call errors and the retry policy shared by the OpenAPI and webhook calls."""

from __future__ import annotations

from typing import Any

from bot.platforms.base import RetryPolicy

__all__ = ["DingTalkError", "RetryPolicy", "TokenRejected", "classify"]

ERR_NETWORK = "network"  # our codes for failures that carry no DingTalk code
ERR_HTTP = "http"
ERR_BAD_RESPONSE = "bad_response"
ERR_FLOW_CONTROLLED = "flowControlled"  # batchSend put the user in flowControlledStaffIdList
ERR_INVALID_USER = "invalidStaffId"  # batchSend put the user in invalidStaffIdList
ERR_FOREIGN_WEBHOOK = "foreignWebhook"  # a sessionWebhook not on DingTalk's hosts: never called
ERR_SESSION_EXPIRED = "300001"  # sessionWebhook past sessionWebhookExpiredTime (§2.5)
TOKEN_CODES = frozenset({"InvalidAuthentication"})  # HTTP 400 "不合法的access_token"; also HTTP 401
# Legacy errcodes: -1 busy, 90002/90018/90019 API rate limits (§2.9), 130101 custom robot
# "send too fast"; new-style codes "Throttling…" (and HTTP 429/5xx, checked separately).
RETRIABLE_CODES = frozenset({"-1", "90002", "90018", "90019", "130101", "ServiceUnavailable",
                             "SystemBusy"})
ROBOT_PENALTY_S = 600.0  # custom robot over 20/min is throttled for 10 minutes (§2.7)


class DingTalkError(Exception):
    """A DingTalk call that failed for good (after retries, or at once if not retriable).
    ``retry_after`` (seconds) is set when DingTalk imposes a wait (throttling penalties)."""

    def __init__(self, code: str, message: str, *, retriable: bool,
                 http_status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"DingTalk error {code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retriable
        self.http_status = http_status
        self.retry_after = retry_after


class TokenRejected(DingTalkError):
    """The access token was refused: fetch a new one and try once more."""


def classify(status: int, data: object) -> DingTalkError | None:
    """``None`` for a success, else the error the response stands for (not raised)."""
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    if body.get("status") == 1111:  # IP punished: an HTML/JSON "deny" page, wait in minutes
        wait = float(body.get("wait") or 5) * 60
        return DingTalkError("1111", "IP rate limit", retriable=True, http_status=status,
                             retry_after=wait)
    code = str(body.get("code") or body.get("errcode") or "")
    message = str(body.get("message") or body.get("errmsg") or "")
    if 200 <= status < 300 and code in ("", "0"):
        if body.get("success") is False:
            return DingTalkError(ERR_BAD_RESPONSE, "success=false", retriable=False,
                                 http_status=status)
        return None
    if status == 401 or code in TOKEN_CODES:
        return TokenRejected(code or "401", message, retriable=True, http_status=status)
    return _failure(status, code or ERR_HTTP, message or f"HTTP {status}")


def _failure(status: int, code: str, message: str) -> DingTalkError:
    throttled = status == 429 or code.startswith("Throttling") or code in ("90002", "90018",
                                                                          "90019", "130101")
    retriable = throttled or status >= 500 or code in RETRIABLE_CODES
    retry_after = ROBOT_PENALTY_S if code == "130101" else None
    return DingTalkError(code, message, retriable=retriable, http_status=status,
                         retry_after=retry_after)
