"""DingTalk contact events over Stream (EVENT frames) → ``ContactChange``.

EVENT frames carry ``headers.eventType`` / ``eventId`` (platforms.md §1.4); the data of the
通讯录事件 is ``{"userId": [...]}`` for user_add_org / user_modify_org / user_leave_org and
``{"deptId": [...]}`` for org_dept_create / org_dept_modify / org_dept_remove (HTTP callbacks
spell them ``UserId`` / ``DeptId``; both are read). The event id is the dedupe key: DingTalk
redelivers an event that was not ACKed.
"""

from __future__ import annotations

from typing import Any

from bot.runtime.events import ContactChange

PLATFORM = "dingtalk"
_KINDS = {"user_add_org": "upsert", "user_modify_org": "upsert", "user_active_org": "upsert",
          "user_leave_org": "leave", "org_dept_create": "department",
          "org_dept_modify": "department", "org_dept_remove": "department"}


def parse_contact_event(event_type: str | None, event_id: str | None,
                        data: Any) -> ContactChange | None:
    kind = _KINDS.get(event_type or "")
    if kind is None or not event_id:
        return None
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    users = body.get("userId") or body.get("UserId") or []
    if isinstance(users, str):
        users = [users]
    user_ids = tuple(str(u) for u in users if u)
    if kind != "department" and not user_ids:
        return None
    return ContactChange(PLATFORM, str(event_id), kind, user_ids)
