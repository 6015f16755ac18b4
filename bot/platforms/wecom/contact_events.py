"""WeCom ``change_contact`` callback events → ``ContactChange``.

The event XML (回调通知 成员变更/部门变更) is ``MsgType=event, Event=change_contact`` with
``ChangeType`` create_user | update_user | delete_user | create_party | update_party |
delete_party and ``UserID`` (and ``NewUserID`` when a generated userid was changed once). For
callback URLs configured after 2022-08-15 the member events carry only ``UserID`` and
``Department``, so we never trust the XML's other fields and re-read the member with user/get.
Events carry no MsgId: dedupe on ChangeType + UserID/Id + CreateTime.
"""

from __future__ import annotations

from typing import Any

from bot.runtime.events import ContactChange

PLATFORM = "wecom"
_KINDS = {"create_user": "upsert", "update_user": "upsert", "delete_user": "leave",
          "create_party": "department", "update_party": "department",
          "delete_party": "department"}


def parse_change_contact(fields: dict[str, Any]) -> ContactChange | None:
    """The change for a decrypted change_contact event; None for kinds we do not follow (tags)."""
    change = str(fields.get("ChangeType") or "")
    kind = _KINDS.get(change)
    if kind is None:
        return None
    subject = str(fields.get("UserID") or fields.get("Id") or "")
    event_id = f"{change}:{subject}:{fields.get('CreateTime') or ''}"
    if kind == "department":
        return ContactChange(PLATFORM, event_id, kind)
    new_id = str(fields.get("NewUserID") or "") or None
    if not subject:
        return None
    return ContactChange(PLATFORM, event_id, kind, (new_id or subject,),
                         renamed_from=subject if new_id else None)
