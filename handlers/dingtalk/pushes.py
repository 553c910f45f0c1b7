"""What a Stream push carries: a message to the robot, or a press on one of our cards, read from
the CALLBACK frame's data with the official SDK's models (chatbot.py, card_callback.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dingtalk_stream import CardCallbackMessage, ChatbotMessage

ConversationType = Literal["private", "group"]


@dataclass(frozen=True)
class IncomingDingTalkMessage:
    """A message to the robot: one-to-one, or in a group where the robot was @-mentioned.

    ``message_id`` (msgId) is DingTalk's id of the message and the key for idempotence;
    ``frame_id`` is the Stream push's id. DingTalk gives no unionId here: a person is
    ``sender_staff_id`` (their userid in the organisation; absent for outsiders) or else
    ``sender_id`` (an opaque per-person id); :attr:`sender_key` picks one.
    """

    message_id: str
    frame_id: str
    conversation_type: ConversationType
    conversation_id: str
    conversation_title: str
    sender_id: str
    sender_staff_id: str
    sender_nick: str
    sender_corp_id: str
    is_admin: bool
    msgtype: str  # text | richText | picture | file | audio | video | …
    text: str  # stripped; richText parts joined; audio: the speech recognition
    at_bot: bool
    at_user_ids: tuple[str, ...]  # staff ids of people @-mentioned (besides the robot)
    download_codes: tuple[str, ...]  # pictures and files, for messageFiles/download
    file_name: str
    robot_code: str
    created_at_ms: int
    session_webhook: str
    session_webhook_expires_ms: int
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sender_key(self) -> str:
        """The id-as-text to address this person by: the staff id when there is one."""
        return self.sender_staff_id or self.sender_id


@dataclass(frozen=True)
class CardAction:
    """A press on one of our interactive cards (topic /v1.0/card/instances/callback).

    ``payload`` is the opaque string our card put into the button's callback params;
    ``user_id`` is the presser's userid (``user_id_type`` 1) or unionId (2).
    """

    frame_id: str
    out_track_id: str
    user_id: str
    user_id_type: int
    corp_id: str
    space_type: str  # IM_GROUP | IM_ROBOT | …
    space_id: str
    action_ids: tuple[str, ...]
    params: Mapping[str, Any]
    payload: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_message(data: Mapping[str, Any], frame_id: str) -> IncomingDingTalkMessage:
    """The robot-message payload (``data`` of a CALLBACK frame) as our dataclass."""
    msg = ChatbotMessage.from_dict(dict(data))
    raw_content = data.get("content")
    content: Mapping[str, Any] = raw_content if isinstance(raw_content, dict) else {}
    msgtype = str(msg.message_type or data.get("msgtype") or "")
    text = ""
    codes: list[str] = []
    if msgtype == "text" and msg.text is not None:
        text = msg.text.content or ""
    elif msgtype == "richText":
        parts = content.get("richText") or []
        text = "".join(str(p["text"]) for p in parts if isinstance(p, dict) and "text" in p)
        codes = [
            str(p["downloadCode"]) for p in parts if isinstance(p, dict) and p.get("downloadCode")
        ]
    elif msgtype == "audio":
        text = str(content.get("recognition", ""))
    if msgtype in ("picture", "file", "audio", "video") and content.get("downloadCode"):
        codes = [str(content["downloadCode"])]
    robot_ids = {msg.chatbot_user_id}
    at_users = tuple(
        str(u.staff_id) for u in msg.at_users or () if u.staff_id and u.dingtalk_id not in robot_ids
    )
    conversation_type: ConversationType = "group" if msg.conversation_type == "2" else "private"
    return IncomingDingTalkMessage(
        message_id=str(msg.message_id or ""),
        frame_id=frame_id,
        conversation_type=conversation_type,
        conversation_id=str(msg.conversation_id or ""),
        conversation_title=str(msg.conversation_title or ""),
        sender_id=str(msg.sender_id or ""),
        sender_staff_id=str(msg.sender_staff_id or ""),
        sender_nick=str(msg.sender_nick or ""),
        sender_corp_id=str(msg.sender_corp_id or ""),
        is_admin=bool(msg.is_admin),
        msgtype=msgtype,
        # DingTalk removes the robot's own @name from the text and leaves its space.
        text=text.strip(),
        at_bot=bool(msg.is_in_at_list),
        at_user_ids=at_users,
        download_codes=tuple(codes),
        file_name=str(content.get("fileName", "")),
        robot_code=str(msg.robot_code or ""),
        created_at_ms=int(msg.create_at or 0),
        session_webhook=str(msg.session_webhook or ""),
        session_webhook_expires_ms=int(msg.session_webhook_expired_time or 0),
        raw=dict(data),
    )


def parse_card_action(data: Mapping[str, Any], frame_id: str) -> CardAction:
    """The card-callback payload as our dataclass (content is JSON text inside JSON)."""
    msg = CardCallbackMessage.from_dict(
        {k: v for k, v in data.items() if k != "extension" or (isinstance(v, str) and v)}
    )
    private = msg.content.get("cardPrivateData", {}) if isinstance(msg.content, dict) else {}
    params = private.get("params", {}) if isinstance(private, dict) else {}
    params = params if isinstance(params, dict) else {}
    action_ids = private.get("actionIds", []) if isinstance(private, dict) else []
    try:
        user_id_type = int(data.get("userIdType", 1))
    except (TypeError, ValueError):
        user_id_type = 1
    return CardAction(
        frame_id=frame_id,
        out_track_id=str(msg.card_instance_id or ""),
        user_id=str(msg.user_id or ""),
        user_id_type=user_id_type,
        corp_id=str(msg.corp_id or ""),
        space_type=str(data.get("spaceType", "")),
        space_id=str(data.get("spaceId", "")),
        action_ids=tuple(str(a) for a in action_ids or ()),
        params=params,
        payload=str(params.get("payload", "")),
        raw=dict(data),
    )
