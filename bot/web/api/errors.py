"""The API's error shape ``{"error": {"code", "message"}}`` and the status of each core error."""

from __future__ import annotations

from aiohttp import web

from cards.texts import Locale, error_text
from core.errors import CoreError, InvalidInput

NOT_FOUND = {"unknown_employee", "unknown_item", "unknown_order", "unknown_approval",
             "unknown_confirmation"}
CONFLICT = {"bad_order_state", "insufficient_points", "insufficient_allowance", "out_of_stock",
            "codes_exhausted", "already_decided", "inactive_employee", "limit_reached",
            "not_available", "confirmation_expired"}
FORBIDDEN = {"forbidden", "not_approver"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def status_of(exc: CoreError) -> int:
    if exc.code in NOT_FOUND:
        return 404
    if exc.code in CONFLICT:
        return 409
    return 403 if exc.code in FORBIDDEN else 422


def core_error(exc: CoreError, lang: Locale) -> ApiError:
    message = error_text(lang, exc)
    typed = isinstance(exc, InvalidInput) and (exc.problem is not None or exc.problems)
    if "line" in exc.params and not typed:  # a file row: say which line, as the CLI does
        message = f"line {exc.params['line']}: {message}"
    return ApiError(status_of(exc), exc.code, message)
