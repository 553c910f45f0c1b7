"""The intake hot path's statements, built once.

The first and only read of a text message: the sender's identity, person and station, whether
this message was handled already (in any of the three tables a message can land in), how many
opinions the person sent this hour and whether they are a representative.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal, select, union_all

from domain.states import OpinionSource, Role
from storage.models import (
    Attachment,
    InboundMessage,
    Opinion,
    OpinionEvent,
    StationRole,
    User,
    UTCDateTime,
)
from storage.queries.people import person_query


def handled_parts() -> list[Any]:
    channel: Any = bindparam("src_channel")
    chat: Any = bindparam("chat")
    msg: Any = bindparam("msg")
    return [
        select(literal("o"), Opinion.id).where(
            Opinion.src_channel == channel,
            Opinion.src_chat_id == chat,
            Opinion.src_message_id == msg,
        ),
        select(literal("a"), Attachment.id).where(
            Attachment.src_channel == channel,
            Attachment.src_chat_id == chat,
            Attachment.src_message_id == msg,
        ),
        select(literal("i"), InboundMessage.id).where(
            InboundMessage.channel == channel,
            InboundMessage.chat_id == chat,
            InboundMessage.message_id == msg,
        ),
    ]


def recent_opinions(user_id: Any) -> Any:
    return select(func.count(Opinion.id)).where(
        Opinion.resident_id == user_id,
        Opinion.source == OpinionSource.RESIDENT,
        Opinion.created_at >= bindparam("since", type_=UTCDateTime()),
    )


def is_representative(user_id: Any) -> Any:
    return select(func.count(StationRole.id)).where(
        StationRole.user_id == user_id, StationRole.role == Role.REPRESENTATIVE
    )


HANDLED = union_all(*handled_parts())
RECENT = recent_opinions(bindparam("user"))
PERSON_AND_LOOKUP = person_query(
    *(
        part.with_only_columns(part.selected_columns[1]).scalar_subquery()
        for part in handled_parts()
    ),
    recent_opinions(User.id).scalar_subquery(),
    is_representative(User.id).scalar_subquery(),
)

_OPINIONS = cast(Table, Opinion.__table__)
INSERT_OPINION = insert(_OPINIONS).returning(_OPINIONS.c.id)
INSERT_EVENT = insert(cast(Table, OpinionEvent.__table__))
