"""WeCom (企业微信) self-built app adapter: callback transport, crypto, parsing, API client.

Wiring (composition root)::

    crypto = wecom.crypto_from_settings(settings)
    client = wecom.client_from_settings(settings)          # close() it on app cleanup
    wecom.setup_routes(app, crypto=crypto, feed=dispatcher.feed)
"""

from __future__ import annotations

from bot.platforms.wecom.client import RetryPolicy, WeComClient, WeComError
from bot.platforms.wecom.crypto import WeComCrypto, WeComCryptoError
from bot.platforms.wecom.parse import parse_event
from bot.platforms.wecom.transport import CALLBACK_PATH, Feed, setup_routes
from config.settings import Settings

__all__ = [
    "CALLBACK_PATH", "Feed", "RetryPolicy", "WeComClient", "WeComCrypto", "WeComCryptoError",
    "WeComError", "client_from_settings", "crypto_from_settings", "parse_event", "setup_routes",
]


def crypto_from_settings(settings: Settings) -> WeComCrypto:
    if not (settings.wecom_token and settings.wecom_aes_key and settings.wecom_corp_id):
        raise ValueError("JIFEN_WECOM_TOKEN, JIFEN_WECOM_AES_KEY and JIFEN_WECOM_CORP_ID are required")
    return WeComCrypto(token=settings.wecom_token.get_secret_value(),
                       aes_key=settings.wecom_aes_key.get_secret_value(),
                       corp_id=settings.wecom_corp_id)


def client_from_settings(settings: Settings, *, retry: RetryPolicy | None = None) -> WeComClient:
    if not (settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id):
        raise ValueError("JIFEN_WECOM_CORP_ID, JIFEN_WECOM_SECRET and JIFEN_WECOM_AGENT_ID are required")
    return WeComClient(corp_id=settings.wecom_corp_id,
                       secret=settings.wecom_secret.get_secret_value(),
                       agent_id=settings.wecom_agent_id, api_base=settings.wecom_api_base,
                       retry=retry)
