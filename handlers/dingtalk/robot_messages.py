"""What the app robot sends and where: a conversation (group or person), a message template
with its parameters, and an uploaded file's media id."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Conversation:
    """Where a robot message goes: a group (openConversationId) or a person (userId)."""

    kind: Literal["group", "private"]
    id: str

    @classmethod
    def group(cls, open_conversation_id: str) -> Conversation:
        return cls("group", open_conversation_id)

    @classmethod
    def private(cls, user_id: str) -> Conversation:
        return cls("private", user_id)

    @property
    def key(self) -> str:
        """A text address for outbox rows: ``group:<cid>`` or ``user:<staffId>``."""
        return f"{'group' if self.kind == 'group' else 'user'}:{self.id}"

    @classmethod
    def from_key(cls, key: str) -> Conversation:
        kind, _, ident = key.partition(":")
        if not ident or kind not in ("group", "user"):
            raise ValueError(f"not a DingTalk conversation key: {key!r}")
        return cls.group(ident) if kind == "group" else cls.private(ident)


@dataclass(frozen=True)
class RobotMessage:
    """A robot message template (msgKey) and its parameters (msgParam).

    Templates: open.dingtalk.com "企业机器人发送消息的消息类型" (sampleText, sampleMarkdown,
    sampleImageMsg, sampleFile, sampleActionCard…).
    """

    msg_key: str
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, content: str) -> RobotMessage:
        return cls("sampleText", {"content": content})

    @classmethod
    def markdown(cls, title: str, text: str) -> RobotMessage:
        return cls("sampleMarkdown", {"title": title, "text": text})

    @classmethod
    def image(cls, media_id_or_url: str) -> RobotMessage:
        """A picture: photoURL takes a media_id from :meth:`DingTalkApi.upload_media` too."""
        return cls("sampleImageMsg", {"photoURL": media_id_or_url})

    @classmethod
    def file(cls, media_id: str, file_name: str) -> RobotMessage:
        file_type = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else "file"
        return cls(
            "sampleFile", {"mediaId": media_id, "fileName": file_name, "fileType": file_type}
        )

    @property
    def msg_param(self) -> str:
        """msgParam is a JSON *string* inside the JSON body (send-group-message page)."""
        return json.dumps(dict(self.params), ensure_ascii=False)


@dataclass(frozen=True)
class UploadedMedia:
    media_id: str
    kind: str
