"""Detail added to an opinion: extra text, a photo, a file, a voice note or a location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
from domain.message import Message
from domain.states import EventKind, MessageKind
from services.kernel import audit
from services.kernel.cards import OpinionView
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from storage.models import Attachment, Opinion, User

if TYPE_CHECKING:
    from services.intake.text import Source


@dataclass(frozen=True)
class Media:
    """A non-text message: what the channel gave us to find the file again later."""

    kind: str
    file_id: str | None = None
    file_unique_id: str | None = None
    caption: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def attachment(
    ctx: ServiceContext,
    op: OpinionView | None,
    user: User,
    src: Source,
    media: Media,
    *,
    in_caption: bool,
) -> Attachment:
    return Attachment(
        opinion_id=op.id if op is not None else None,
        user_id=user.id,
        kind=media.kind,
        file_id=media.file_id,
        file_unique_id=media.file_unique_id,
        # When the caption became the opinion's text, do not store it twice.
        text=None if in_caption else media.caption,
        latitude=media.latitude,
        longitude=media.longitude,
        src_channel=src.chat.channel.value,
        src_chat_id=src.chat.id,
        src_message_id=src.message_id,
        created_at=ctx.clock.now(),
    )


async def add_detail(
    s: AsyncSession, ctx: ServiceContext, user: User, op: Opinion, src: Source, media: Media
) -> Message:
    s.add(attachment(ctx, op, user, src, media, in_caption=False))
    user.pending_action = None
    user.pending_opinion_id = None
    now = ctx.clock.now()
    audit.record(s, op, EventKind.DETAIL, user.id, now, media.kind, keep_status=False)
    note = st.detail_added(op.ref_no, rt.kind_label(media.kind), media.caption)
    key = f"staff:detail:{src.chat.key}:{src.message_id}"
    await tell_staff(s, op.station_id, key, Message(note), now, op.id, MessageKind.STAFF_DETAIL)
    return Message(rt.detail_added(op.ref_no, rt.kind_label(media.kind)))
