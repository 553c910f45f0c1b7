"""A resident's text: the answer to a prompt, detail for an opinion, or a new opinion.

One transaction from the person lookup to the receipt: the hot path of the whole bot. Idempotent
on the (channel, chat, message) it came from: a re-delivered update returns the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
from domain.channels import Address, Sender
from domain.lifecycle import Status
from domain.message import Message
from domain.refs import format_ref
from domain.states import EventKind, OpinionSource, PromptKind
from domain.text import meaningful_chars, on_behalf_of
from services.intake.common import (
    ORPHAN_TTL,
    PromptHook,
    after_race,
    earlier_answer,
    found,
    pending_opinion,
    receipt_actions,
    validate,
)
from services.intake.detail import Media, add_detail, attachment
from services.kernel.cards import OpinionView, post_triage_card
from services.kernel.context import ServiceContext, ThemeResult
from services.kernel.numbering import next_seq
from services.kernel.people import Person, station_of, upsert_person
from storage.models import Attachment, Station, User
from storage.queries.intake import INSERT_EVENT, INSERT_OPINION, PERSON_AND_LOOKUP, RECENT
from storage.queries.people import EXTRA_AT


@dataclass(frozen=True, slots=True)
class NewOpinion:
    """The opinion intake has just inserted, as its receipt and staff card read it.

    Not an ORM object: constructing and registering a persistent Opinion cost more than the
    INSERT itself on the hot path, and nothing in the transaction changes the row afterwards.
    """

    id: int
    station_id: int
    ref_no: str
    text: str
    theme: str
    theme_confidence: float
    theme_terms: list[str]
    needs_review: bool
    theme_confirmed: bool
    anonymous: bool
    status: str
    source: str
    resident_id: int | None
    on_behalf_of: str | None
    created_at: datetime

    @classmethod
    def of(cls, new_id: int, row: dict[str, Any]) -> NewOpinion:
        """From `opinion_row()`'s columns and the id the INSERT returned."""
        return cls(id=new_id, **{name: row[name] for name in _VIEW_COLUMNS})


_VIEW_COLUMNS = tuple(f.name for f in fields(NewOpinion) if f.name != "id")


@dataclass(frozen=True, slots=True)
class Source:
    """Where an opinion came from: the chat, the message, and whom it was forwarded from."""

    chat: Address
    message_id: str
    forwarded_from: str | None = None


def opinion_row(
    station: Station,
    user: User,
    src: Source,
    body: str,
    verdict: ThemeResult,
    relayed: dict[str, Any],
    now: datetime,
    year: int,
    seq: int,
) -> dict[str, Any]:
    """Every column of a new resident opinion but its id (a test checks the set against the
    table, so a new column cannot be forgotten here)."""
    return {
        "station_id": station.id,
        "ref_no": format_ref(station.ref_prefix, year, seq),
        "year": year,
        "seq": seq,
        "resident_id": user.id,
        "submitted_by_id": None,
        "source": OpinionSource.RESIDENT.value,
        "forwarded_from": src.forwarded_from,
        "on_behalf_of": None,
        "contact": None,
        "import_key": None,
        "text": body,
        "theme": verdict.category,
        "theme_confidence": float(verdict.confidence),
        "theme_terms": list(verdict.terms),
        "needs_review": bool(verdict.needs_review),
        "theme_confirmed": False,
        "anonymous": True,
        "status": Status.RECEIVED.value,
        "src_channel": src.chat.channel.value,
        "src_chat_id": src.chat.id,
        "src_message_id": src.message_id,
        "receipt_message_id": None,
        "duplicate_of_id": None,
        "reject_reason": None,
        "satisfaction": None,
        "reopen_count": 0,
        "assigned_at": None,
        "closed_at": None,
        "claim_code": None,
        "created_at": now,
        "updated_at": now,
        **relayed,
    }


async def submit_text(
    ctx: ServiceContext, prompts: PromptHook | None, sender: Sender, src: Source, text: str
) -> Message:
    body = text.strip()
    try:
        async with ctx.sessions.begin() as s:
            params = {
                "src_channel": src.chat.channel.value,
                "chat": src.chat.id,
                "msg": src.message_id,
                "since": ctx.clock.now() - timedelta(hours=1),
            }
            person, row = await upsert_person(s, sender, PERSON_AND_LOOKUP, params)
            done, recent = await _lookup(s, ctx, row[EXTRA_AT:])
            if done is not None:
                return done
            if prompts is not None and src.forwarded_from is None:
                answered = await prompts(s, person, src.chat, src.message_id, text)
                if answered is not None:
                    return answered
            user = person.user
            pending = await pending_opinion(s, ctx, user)
            if pending is not None and src.forwarded_from is None:
                if meaningful_chars(body) == 0:
                    return Message(rt.no_text_only_emoji())
                media = Media(kind="text", caption=body)
                return await add_detail(s, ctx, user, pending, src, media)
            problem = validate(ctx, body)
            if problem is not None:
                return problem
            verdict = ctx.classifier.classify(body)
            return await create_opinion(s, ctx, user, src, body, verdict, None, recent)
    except IntegrityError:
        return await after_race(ctx, src.chat, src.message_id)


async def _lookup(s: AsyncSession, ctx: ServiceContext, values: Any) -> tuple[Message | None, int]:
    """From the columns PERSON_AND_LOOKUP read with the person: the earlier answer if this
    message was handled already, and the person's opinions this hour (-1: a representative)."""
    opinion_id, attachment_id, inbound_id, recent, representative = values
    where = found((("o", opinion_id), ("a", attachment_id), ("i", inbound_id)))
    # Representatives relay what they collected: no hourly limit, marked 代表转交.
    return await earlier_answer(s, ctx, where), -1 if representative else int(recent)


async def create_opinion(
    s: AsyncSession,
    ctx: ServiceContext,
    user: User,
    src: Source,
    body: str,
    verdict: ThemeResult,
    media: Media | None,
    recent: int | None = None,
) -> Message:
    station = await station_of(s, ctx, user)
    if recent is None:
        since = ctx.clock.now() - timedelta(hours=1)
        recent = int((await s.execute(RECENT, {"user": user.id, "since": since})).scalar_one())
    if recent >= ctx.limits.opinions_per_hour:
        return Message(rt.rate_limited(ctx.limits.opinions_per_hour))
    relayed: dict[str, Any] = {}
    if recent < 0:
        relayed = {
            "source": OpinionSource.REPRESENTATIVE.value,
            "submitted_by_id": user.id,
            "on_behalf_of": on_behalf_of(body),
        }
    op = await _insert_opinion(s, ctx, station, user, src, body, verdict, relayed)
    n_files = await _adopt_orphans(s, ctx, user, op)
    if media is not None:
        s.add(attachment(ctx, op, user, src, media, in_caption=True))
        n_files += 1
    if station.staff_chat_id is not None:
        await post_triage_card(s, ctx, station.id, op, op.created_at, n_files)
    ctx.duplicates.add(station.id, op.id, body)
    text = rt.receipt(op.ref_no, ctx.theme_label(op.theme), op.anonymous)
    if op.source == OpinionSource.REPRESENTATIVE:
        text = text + "\n" + rt.relayed_note(op.on_behalf_of)
    return Message(text, receipt_actions(ctx, op))


async def _insert_opinion(
    s: AsyncSession,
    ctx: ServiceContext,
    station: Station,
    user: User,
    src: Source,
    body: str,
    verdict: ThemeResult,
    relayed: dict[str, Any],
) -> NewOpinion:
    """Insert with prebuilt Core statements: the ORM unit of work (object state, flush
    planning, identity bookkeeping) cost more than the INSERTs themselves on the hot path."""
    now = ctx.clock.now()
    year = now.astimezone(ctx.tz).year
    seq = await next_seq(s, station.id, year)
    values = opinion_row(station, user, src, body, verdict, relayed, now, year, seq)
    new_id = (await s.execute(INSERT_OPINION, values)).scalar_one()
    await s.execute(
        INSERT_EVENT,
        {
            "opinion_id": new_id,
            "actor_id": user.id,
            "action": EventKind.SUBMIT.value,
            "from_status": None,
            "to_status": values["status"],
            "note": None,
            "at": now,
        },
    )
    return NewOpinion.of(new_id, values)


async def _adopt_orphans(s: AsyncSession, ctx: ServiceContext, user: User, op: OpinionView) -> int:
    if user.pending_action != PromptKind.ORPHANS:
        return 0  # the common case costs no query
    user.pending_action = None
    since = ctx.clock.now() - ORPHAN_TTL
    result = await s.execute(
        update(Attachment)
        .where(
            Attachment.user_id == user.id,
            Attachment.opinion_id.is_(None),
            Attachment.created_at >= since,
        )
        .values(opinion_id=op.id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["Person", "create_opinion", "submit_text"]
