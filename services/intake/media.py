"""A photo, file, voice note or location from a resident."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
from domain.channels import Sender
from domain.message import Message
from domain.states import PromptKind
from services.intake.common import (
    OPEN_STATUSES,
    ORPHAN_TTL,
    after_race,
    already_handled,
    pending_opinion,
    validate,
)
from services.intake.detail import Media, add_detail, attachment
from services.intake.text import Source, create_opinion
from services.kernel.context import ServiceContext
from services.kernel.people import upsert_user
from storage.models import Opinion, User


async def submit_media(ctx: ServiceContext, sender: Sender, src: Source, media: Media) -> Message:
    """Detail for an open opinion, or a new one.

    It joins the opinion the resident is adding detail to, else their latest open opinion
    from the last day; else a usable caption starts a new opinion; else it joins their latest
    open opinion of any age; else it waits for the next opinion they write.
    """
    caption = (media.caption or "").strip()
    caption_ok = bool(caption) and validate(ctx, caption) is None
    try:
        async with ctx.sessions.begin() as s:
            return await _submit(s, ctx, sender, src, media, caption, caption_ok)
    except IntegrityError:
        return await after_race(ctx, src.chat, src.message_id)


async def _submit(
    s: AsyncSession,
    ctx: ServiceContext,
    sender: Sender,
    src: Source,
    media: Media,
    caption: str,
    caption_ok: bool,
) -> Message:
    user = await upsert_user(s, sender)
    done = await already_handled(s, ctx, src.chat, src.message_id)
    if done is not None:
        return done
    target = await pending_opinion(s, ctx, user)
    if target is None:
        latest = await _latest_open(s, user)
        recent = latest is not None and (ctx.clock.now() - latest.created_at <= ORPHAN_TTL)
        if recent or not caption_ok:
            target = latest
    if target is not None:
        return await add_detail(s, ctx, user, target, src, media)
    if not caption_ok:
        # Keep it: it joins the next opinion this resident writes (within a day).
        s.add(attachment(ctx, None, user, src, media, in_caption=False))
        user.pending_action = PromptKind.ORPHANS
        user.pending_since = ctx.clock.now()
        needs_text = rt.attachment_needs_text(rt.kind_label(media.kind))
        if caption:
            problem = validate(ctx, caption)
            assert problem is not None
            return Message(problem.text + "\n" + needs_text)
        return Message(needs_text)
    verdict = ctx.classifier.classify(caption)
    return await create_opinion(s, ctx, user, src, caption, verdict, media)


async def _latest_open(s: AsyncSession, user: User) -> Opinion | None:
    return (
        await s.execute(
            select(Opinion)
            .where(Opinion.resident_id == user.id, Opinion.status.in_(OPEN_STATUSES))
            .order_by(Opinion.created_at.desc(), Opinion.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
