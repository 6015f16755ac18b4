"""The contacts client of each platform, built from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from bot.platforms.base import RetryPolicy
from config.settings import Settings
from core.directory.changes import Member, Roster


class ContactsSource(Protocol):
    async def roster(self) -> Roster: ...

    async def member(self, user_id: str) -> Member | None: ...

    async def close(self) -> None: ...


class NotConfigured(Exception):
    """The platform's credentials are missing (one line for the operator)."""


def contacts_for(settings: Settings, platform: str, *,
                 retry: RetryPolicy | None = None) -> ContactsSource:
    if platform == "wecom":
        return _wecom(settings, retry)
    if platform == "dingtalk":
        return _dingtalk(settings, retry)
    raise NotConfigured(f"unknown platform {platform!r} (wecom or dingtalk)")


@asynccontextmanager
async def open_contacts(settings: Settings, platform: str) -> AsyncIterator[ContactsSource]:
    source = contacts_for(settings, platform)
    try:
        yield source
    finally:
        await source.close()


def _wecom(settings: Settings, retry: RetryPolicy | None) -> ContactsSource:
    from bot.platforms.wecom.client import WeComClient
    from bot.platforms.wecom.contacts import WeComContacts

    # The 通讯录同步 secret sees the whole company; the app secret only the app's visible range.
    secret = settings.wecom_contact_secret or settings.wecom_secret
    if not (settings.wecom_corp_id and secret):
        raise NotConfigured("WeCom sync needs JIFEN_WECOM_CORP_ID and JIFEN_WECOM_CONTACT_SECRET "
                            "(or JIFEN_WECOM_SECRET)")
    client = WeComClient(corp_id=settings.wecom_corp_id, secret=secret.get_secret_value(),
                         agent_id=settings.wecom_agent_id or 0, api_base=settings.wecom_api_base,
                         retry=retry)
    return WeComContacts(client)


def _dingtalk(settings: Settings, retry: RetryPolicy | None) -> ContactsSource:
    from bot.platforms.dingtalk.contacts import DingTalkContacts

    if not (settings.dingtalk_client_id and settings.dingtalk_client_secret):
        raise NotConfigured("DingTalk sync needs JIFEN_DINGTALK_CLIENT_ID and "
                            "JIFEN_DINGTALK_CLIENT_SECRET")
    return DingTalkContacts(app_key=settings.dingtalk_client_id,
                            app_secret=settings.dingtalk_client_secret.get_secret_value(),
                            oapi_base=settings.dingtalk_oapi_base, retry=retry)

