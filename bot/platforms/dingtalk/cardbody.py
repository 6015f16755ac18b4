"""Request bodies for interactive cards (platforms.md §2.6) — pure, so they are easy to test."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cards.render_dingtalk import validate_out_track_id

JSON = dict[str, Any]
USER_ID_TYPE_USERID = 1  # ids are staff ids (userId), not unionIds


def string_map(values: Mapping[str, Any]) -> dict[str, str]:
    """``cardParamMap`` is ``Dict[str, str]``: anything else goes as its JSON text (CARDEX)."""
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False,
                                                            separators=(",", ":"))
            for k, v in values.items()}


def create_and_deliver_body(*, template_id: str, out_track_id: str,
                            card_param_map: Mapping[str, Any], robot_code: str,
                            user_id: str | None = None, open_conversation_id: str | None = None,
                            at_user_ids: Mapping[str, str] | None = None) -> JSON:
    """``createAndDeliver`` into a robot 1:1 chat (``IM_ROBOT.<userId>``) or a group
    (``IM_GROUP.<openConversationId>``), with Stream callbacks for the buttons."""
    if (user_id is None) == (open_conversation_id is None):
        raise ValueError("give exactly one of user_id and open_conversation_id")
    body: JSON = {
        "cardTemplateId": template_id,
        "outTrackId": validate_out_track_id(out_track_id),
        "cardData": {"cardParamMap": string_map(card_param_map)},
        "callbackType": "STREAM",  # clicks arrive on /v1.0/card/instances/callback (§1.9)
        "userIdType": USER_ID_TYPE_USERID,
    }
    if user_id is not None:
        body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{user_id}"
        body["imRobotOpenSpaceModel"] = {"supportForward": True}
        body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
        return body
    body["openSpaceId"] = f"dtv1.card//IM_GROUP.{open_conversation_id}"
    body["imGroupOpenSpaceModel"] = {"supportForward": True}
    deliver: JSON = {"robotCode": robot_code}
    if at_user_ids:
        deliver["atUserIds"] = dict(at_user_ids)
    body["imGroupOpenDeliverModel"] = deliver
    return body


def update_body(out_track_id: str, card_param_map: Mapping[str, Any]) -> JSON:
    """``PUT /v1.0/card/instances``; ``updateCardDataByKey`` so other keys stay as they are."""
    return {
        "outTrackId": validate_out_track_id(out_track_id),
        "cardData": {"cardParamMap": string_map(card_param_map)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "userIdType": USER_ID_TYPE_USERID,
    }
