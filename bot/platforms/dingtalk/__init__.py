"""DingTalk (钉钉) enterprise robot adapter: Stream and HTTP transports, signatures, parsing,
OpenAPI client and the outgoing policy.

Wiring (composition root)::

    client = dingtalk.client_from_settings(settings)        # close() it on app cleanup
    sender = dingtalk.DingTalkSender(client, card_template_id=settings.dingtalk_card_template_id)
    if settings.dingtalk_mode == "stream":
        stream = dingtalk.stream_from_settings(settings, feed=dispatcher.feed)  # start()/stop()
    else:
        dingtalk.setup_routes(app, app_secret=<client secret>, feed=dispatcher.feed,
                              admit=dingtalk.database_admit(db))
"""

from __future__ import annotations

from bot.platforms.dingtalk.client import BatchSendResult, DingTalkClient
from bot.platforms.dingtalk.errors import DingTalkError, RetryPolicy
from bot.platforms.dingtalk.http import CALLBACK_PATH, Feed, database_admit, setup_routes
from bot.platforms.dingtalk.parse import parse_bot_message, parse_card_callback, parse_payload
from bot.platforms.dingtalk.sender import DingTalkSender, delivery_error
from bot.platforms.dingtalk.stream import Backoff, ContactFeed, DingTalkStream, StreamTimeouts
from config.settings import Settings

__all__ = [
    "CALLBACK_PATH", "Backoff", "BatchSendResult", "DingTalkClient", "DingTalkError",
    "DingTalkSender", "DingTalkStream", "Feed", "RetryPolicy", "StreamTimeouts",
    "client_from_settings", "database_admit", "delivery_error", "parse_bot_message", "parse_card_callback",
    "parse_payload", "sender_from_settings", "setup_routes", "stream_from_settings",
]


def _credentials(settings: Settings) -> tuple[str, str]:
    if not (settings.dingtalk_client_id and settings.dingtalk_client_secret):
        raise ValueError("JIFEN_DINGTALK_CLIENT_ID and JIFEN_DINGTALK_CLIENT_SECRET are required")
    return settings.dingtalk_client_id, settings.dingtalk_client_secret.get_secret_value()


def client_from_settings(settings: Settings, *, retry: RetryPolicy | None = None) -> DingTalkClient:
    app_key, app_secret = _credentials(settings)
    return DingTalkClient(app_key=app_key, app_secret=app_secret,
                          robot_code=settings.dingtalk_robot_code or app_key,
                          api_base=settings.dingtalk_api_base, retry=retry)


def sender_from_settings(settings: Settings, client: DingTalkClient) -> DingTalkSender:
    return DingTalkSender(client, card_template_id=settings.dingtalk_card_template_id)


def stream_from_settings(settings: Settings, *, feed: Feed,
                         contacts: ContactFeed | None = None) -> DingTalkStream:
    client_id, client_secret = _credentials(settings)
    return DingTalkStream(feed=feed, client_id=client_id, client_secret=client_secret,
                          api_base=settings.dingtalk_api_base, contacts=contacts)


def app_secret(settings: Settings) -> str:
    """The AppSecret that signs HTTP-mode callbacks (``setup_routes(app, app_secret=…)``)."""
    return _credentials(settings)[1]
