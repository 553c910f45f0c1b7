"""The outbox: messages owed, written with the change that caused them, sent by the dispatcher.

Rows are addressed by (channel, chat) and hold the neutral message as JSON; the chat's channel
renders it when it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, event, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from domain.channels import Address, Channel
from domain.message import Message
from domain.states import MessageKind, OutboxStatus
from services.kernel.context import ServiceContext
from storage.models import Identity, Outbox, Station, Unit, User
from storage.queries.clock import write_plans
from storage.queries.outbox import (
    ACTIVE,
    CLAIMED_COLUMNS,
    due_condition,
    insert_once,
    pick_due,
    recent_sends,
)
from storage.upsert import prebuilt_for

DIRTY = "outbox_dirty"


async def enqueue(
    s: AsyncSession,
    *,
    key: str,
    to: Address,
    message: Message,
    kind: MessageKind,
    due_at: datetime,
    station_id: int | None = None,
    opinion_id: int | None = None,
    expires_at: datetime | None = None,
    status: OutboxStatus = OutboxStatus.PENDING,
    note: str | None = None,
) -> bool:
    """Add a message unless one with `key` exists; True when it was added."""
    result = await s.execute(
        prebuilt_for(s, insert_once),
        {
            "key": key,
            "channel": to.channel.value,
            "chat_id": to.id,
            "message": message.to_json(),
            "file_data": message.data,
            "kind": kind.value,
            "due_at": due_at,
            "expires_at": expires_at,
            "station_id": station_id,
            "opinion_id": opinion_id,
            "status": status.value,
            "attempts": 0,
            "last_error": note,
            "created_at": due_at,
        },
    )
    added = bool(getattr(result, "rowcount", 0))
    if added and status is OutboxStatus.PENDING:
        s.info[DIRTY] = True
    return added


@dataclass(frozen=True)
class Queued:
    """One row for `enqueue_planned`: the same fields as `enqueue`."""

    key: str
    to: Address
    message: Message
    kind: MessageKind
    due_at: datetime
    station_id: int | None = None
    opinion_id: int | None = None
    expires_at: datetime | None = None
    status: OutboxStatus = OutboxStatus.PENDING
    note: str | None = None


async def enqueue_planned(
    s: AsyncSession, rows: Sequence[Queued], moments: Sequence[tuple[int, datetime | None]]
) -> int:
    """Add the rows whose key is new and set each (task id, next moment), in one or two bulk
    statements (storage.queries.clock.write_plans); returns how many pending rows were added.

    For the clock, which plans many reminders at once, instead of a statement (and a round
    trip) per row.
    """
    added = await write_plans(s, bulk_rows(rows), moments)
    mark_added(s, added)
    return added


def bulk_rows(rows: Sequence[Queued]) -> list[tuple[object, ...]]:
    """`rows` as storage.queries.clock.OUTBOX_COLUMNS values."""
    return [
        (
            q.key,
            q.station_id,
            q.kind.value,
            q.to.channel.value,
            q.to.id,
            q.message.to_json(),
            q.message.data,
            q.due_at,
            q.expires_at,
            q.status.value,
            0,
            q.note,
            q.opinion_id,
            q.due_at,
        )
        for q in rows
    ]


def mark_added(s: AsyncSession, added: int) -> None:
    """Rows were added in this transaction: wake the dispatcher once it commits."""
    if added:
        s.info[DIRTY] = True


async def drop(s: AsyncSession, key: str) -> None:
    """Cancel a message that is no longer owed (e.g. a rating reminder after the rating)."""
    await s.execute(
        update(Outbox)
        .where(Outbox.key == key, Outbox.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.DROPPED, last_error="no longer needed")
    )


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    kind: str
    to: Address
    message: Message
    due_at: datetime
    attempts: int
    expires_at: datetime | None
    station_id: int | None
    lease_until: datetime


_PICK = pick_due()


async def claim_due(
    ctx: ServiceContext,
    owner: str,
    limit: int,
    lease: timedelta,
    channels: Collection[Channel],
    per_chat: int = 2,
) -> list[Claimed]:
    """Lease up to `limit` due rows of `channels` to `owner`, at most `per_chat` per chat.

    Expired leases (a crashed sender) are claimable again. On PostgreSQL the rows are locked
    with SKIP LOCKED so concurrent dispatchers never take the same row; on SQLite the
    transaction holds the write lock (BEGIN IMMEDIATE).
    """
    if not channels:
        return []
    now = ctx.clock.now()
    params = {
        "now": now,
        "channels": sorted(c.value for c in channels),
        "per_chat": per_chat,
        "limit": limit,
        "owner": owner,
    }
    async with ctx.sessions.begin() as s:
        pick = _PICK
        if s.get_bind().dialect.name == "postgresql":
            # One claim at a time across dispatchers (SQLite: the write lock), so two never
            # take rows of the same chat at once (storage.queries.outbox.held_elsewhere).
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK})
            pick = pick.with_for_update(skip_locked=True)
        ids = list((await s.execute(pick, params)).scalars())
        if not ids:
            return []
        rows = (
            await s.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids), due_condition())
                .values(
                    status=OutboxStatus.SENDING,
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=Outbox.attempts + 1,
                )
                .returning(*CLAIMED_COLUMNS),
                {"now": now},
            )
        ).all()
    claimed = [_claimed(r) for r in rows]
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


def _claimed(r: Row[Any]) -> Claimed:
    return Claimed(
        id=r.id,
        key=r.key,
        kind=r.kind,
        to=Address(Channel(r.channel), r.chat_id),
        message=Message.from_json(r.message, r.file_data),
        due_at=r.due_at,
        attempts=r.attempts,
        expires_at=r.expires_at,
        station_id=r.station_id,
        lease_until=r.lease_until,
    )


CLAIM_LOCK = 0x6F75_7462_6F78  # "outbox"
_RECENT = recent_sends()


async def recent_sends_to(
    ctx: ServiceContext, channel: Channel, chats: Collection[str], window: timedelta
) -> dict[str, list[float]]:
    """How many seconds ago each chat was written to within `window`, by any dispatcher."""
    if not chats:
        return {}
    now = ctx.clock.now()
    params = {"channel": channel.value, "chats": sorted(chats), "since": now - window}
    ages: dict[str, list[float]] = {chat: [] for chat in chats}
    async with ctx.sessions() as s:
        for chat_id, sent_at in await s.execute(_RECENT, params):
            ages[chat_id].append((now - sent_at).total_seconds())
    return ages


async def finish(
    ctx: ServiceContext,
    row_id: int,
    owner: str,
    status: OutboxStatus,
    *,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome of a send, only if we still hold the lease."""
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(
                Outbox.id == row_id,
                Outbox.lease_owner == owner,
                Outbox.status == OutboxStatus.SENDING,
            )
            .values(
                status=status,
                sent_message_id=message_id,
                sent_at=ctx.clock.now() if status is OutboxStatus.SENT else None,
                last_error=error,
                lease_until=None,
            )
        )


async def release(
    ctx: ServiceContext, row_id: int, owner: str, retry_at: datetime, error: str
) -> None:
    """Give a row back for a later retry (429, network trouble)."""
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(
                Outbox.id == row_id,
                Outbox.lease_owner == owner,
                Outbox.status == OutboxStatus.SENDING,
            )
            .values(
                status=OutboxStatus.PENDING,
                due_at=retry_at,
                lease_owner=None,
                lease_until=None,
                last_error=error,
            )
        )


async def pending_channels(ctx: ServiceContext) -> set[str]:
    """Channels that have rows waiting (to tell about rows no configured channel can send)."""
    async with ctx.sessions() as s:
        rows = await s.execute(
            select(Outbox.channel).where(ACTIVE, Outbox.status == OutboxStatus.PENDING).distinct()
        )
        return set(rows.scalars())


def on_commit_with_outbox(
    sessions: async_sessionmaker[AsyncSession], callback: Callable[[], None]
) -> None:
    """Call `callback` after any transaction that enqueued outbox rows commits.

    This lets the dispatcher deliver a staff notification within milliseconds of the change that
    caused it, while the row itself guarantees delivery if the process dies first.
    """
    session_cls = type("OutboxAwareSession", (Session,), {})
    sessions.configure(sync_session_class=session_cls)

    @event.listens_for(session_cls, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop(DIRTY, False):
            callback()

    @event.listens_for(session_cls, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(DIRTY, None)


async def undeliverable(
    ctx: ServiceContext, row: Claimed, owner: str, reason: str, *, is_group: bool
) -> int | None:
    """Stop trying a chat that refused us (blocked, kicked); tell the station's staff once.

    Returns the station's id when the chat that refused is that station's staff chat itself
    (then only its admins, in private, can be told)."""
    from texts.reminders import undeliverable as notice

    now = ctx.clock.now()
    to = row.to
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(
                Outbox.id == row.id,
                Outbox.lease_owner == owner,
                Outbox.status == OutboxStatus.SENDING,
            )
            .values(status=OutboxStatus.UNDELIVERABLE, last_error=reason, lease_until=None)
        )
        if not is_group:  # a private chat is addressed by the person's identity
            await s.execute(
                update(Identity)
                .where(Identity.channel == to.channel.value, Identity.external_id == to.id)
                .values(blocked=True)
            )
        station = await s.get(Station, row.station_id) if row.station_id is not None else None
        if station is None or station.staff_chat_id is None or station.staff_channel is None:
            return None
        staff = Address(Channel(station.staff_channel), station.staff_chat_id)
        if staff == to:
            return station.id
        title = await _chat_title(s, to)
        await enqueue(
            s,
            key=f"undeliverable:{to.key}",
            to=staff,
            message=Message(notice(title, reason)),
            kind=MessageKind.STAFF,
            due_at=now,
            station_id=station.id,
        )
    return None


async def _chat_title(s: AsyncSession, to: Address) -> str:
    unit = (
        await s.execute(
            select(Unit.name).where(Unit.chat_channel == to.channel.value, Unit.chat_id == to.id)
        )
    ).first()
    if unit is not None:
        return str(unit[0])
    user = (
        await s.execute(
            select(User)
            .join(Identity, Identity.user_id == User.id)
            .where(Identity.channel == to.channel.value, Identity.external_id == to.id)
        )
    ).scalar_one_or_none()
    return user.display_name if user else to.key
