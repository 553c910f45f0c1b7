"""The outbox: messages owed, written with the change that caused them, sent by the dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from services.context import ServiceContext
from storage.models import Outbox
from storage.upsert import prebuilt_for

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
UNDELIVERABLE = "undeliverable"
DROPPED = "dropped"
FAILED = "failed"
DIRTY = "outbox_dirty"


async def enqueue(
    s: AsyncSession,
    *,
    key: str,
    chat_id: int,
    text: str,
    kind: str,
    due_at: datetime,
    markup: dict[str, Any] | None = None,
    station_id: int | None = None,
    opinion_id: int | None = None,
    photo: bytes | None = None,
) -> bool:
    """Add a message unless one with `key` exists; True when it was added."""
    result = await s.execute(
        prebuilt_for(s, _insert_once),
        {
            "key": key,
            "chat_id": chat_id,
            "text": text,
            "kind": kind,
            "due_at": due_at,
            "reply_markup": markup,
            "station_id": station_id,
            "opinion_id": opinion_id,
            "photo": photo,
            "status": PENDING,
            "attempts": 0,
            "created_at": due_at,
        },
    )
    s.info[DIRTY] = True
    return bool(getattr(result, "rowcount", 0))


def _insert_once(insert: Callable[[Any], Any]) -> Any:
    return insert(Outbox.__table__).on_conflict_do_nothing(index_elements=["key"])


async def drop(s: AsyncSession, key: str) -> None:
    """Cancel a message that is no longer owed (e.g. a rating reminder after the rating)."""
    await s.execute(
        update(Outbox)
        .where(Outbox.key == key, Outbox.status == PENDING)
        .values(status=DROPPED, last_error="no longer needed")
    )


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    kind: str
    chat_id: int
    text: str
    markup: dict[str, Any] | None
    due_at: datetime
    attempts: int
    expires_at: datetime | None
    station_id: int | None
    lease_until: datetime
    photo: bytes | None


async def claim_due(
    ctx: ServiceContext, owner: str, limit: int, lease: timedelta, per_chat: int = 2
) -> list[Claimed]:
    """Lease up to `limit` due rows to `owner`, at most `per_chat` per chat, oldest first.

    The per-chat cap makes each batch round-robin across chats, so one group's backlog (held back
    by its 20-a-minute limit) never delays the others. Expired leases (a crashed sender) are
    claimable again. On PostgreSQL the rows are locked with SKIP LOCKED so concurrent dispatchers
    never take the same row; on SQLite the transaction holds the write lock (BEGIN IMMEDIATE).
    """
    now = ctx.clock.now()
    async with ctx.sessions.begin() as s:
        due = or_(
            and_(Outbox.status == PENDING, Outbox.due_at <= now),
            and_(Outbox.status == SENDING, Outbox.lease_until < now),
        )
        rank = (
            func.row_number()
            .over(partition_by=Outbox.chat_id, order_by=(Outbox.due_at, Outbox.id))
            .label("rank")
        )
        ranked = select(Outbox.id, Outbox.due_at, rank).where(due).subquery()
        candidates = (
            select(ranked.c.id)
            .where(ranked.c.rank <= per_chat)
            .order_by(ranked.c.due_at, ranked.c.id)
            .limit(limit)
        )
        pick = select(Outbox.id).where(Outbox.id.in_(candidates))
        if s.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list((await s.execute(pick)).scalars())
        if not ids:
            return []
        rows = (
            await s.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids), due)
                .values(
                    status=SENDING,
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=Outbox.attempts + 1,
                )
                .returning(
                    Outbox.id,
                    Outbox.key,
                    Outbox.kind,
                    Outbox.chat_id,
                    Outbox.text,
                    Outbox.reply_markup,
                    Outbox.due_at,
                    Outbox.attempts,
                    Outbox.expires_at,
                    Outbox.station_id,
                    Outbox.lease_until,
                    Outbox.photo,
                )
            )
        ).all()
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


async def finish(
    ctx: ServiceContext,
    row_id: int,
    owner: str,
    status: str,
    *,
    message_id: int | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome of a send, only if we still hold the lease."""
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.id == row_id, Outbox.lease_owner == owner, Outbox.status == SENDING)
            .values(
                status=status,
                sent_message_id=message_id,
                sent_at=ctx.clock.now() if status == SENT else None,
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
            .where(Outbox.id == row_id, Outbox.lease_owner == owner, Outbox.status == SENDING)
            .values(
                status=PENDING,
                due_at=retry_at,
                lease_owner=None,
                lease_until=None,
                last_error=error,
            )
        )


async def next_due_at(ctx: ServiceContext) -> datetime | None:
    async with ctx.sessions() as s:
        return (
            await s.execute(
                select(Outbox.due_at)
                .where(Outbox.status == PENDING)
                .order_by(Outbox.due_at)
                .limit(1)
            )
        ).scalar_one_or_none()


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


async def undeliverable(ctx: ServiceContext, row: Claimed, owner: str, reason: str) -> None:
    """Stop trying a chat that refused us (403); tell the station's staff once per chat."""
    from storage.models import Station, Unit, User

    now = ctx.clock.now()
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.id == row.id, Outbox.lease_owner == owner, Outbox.status == SENDING)
            .values(status=UNDELIVERABLE, last_error=reason, lease_until=None)
        )
        if row.chat_id > 0:
            await s.execute(update(User).where(User.tg_id == row.chat_id).values(blocked_bot=True))
        if row.station_id is None:
            return
        station = await s.get(Station, row.station_id)
        if station is None or station.staff_chat_id is None or station.staff_chat_id == row.chat_id:
            return
        unit = (
            await s.execute(select(Unit).where(Unit.chat_id == row.chat_id))
        ).scalar_one_or_none()
        user = (await s.execute(select(User).where(User.tg_id == row.chat_id))).scalar_one_or_none()
        title = unit.name if unit else (user.display_name if user else str(row.chat_id))
        from texts.reminders import undeliverable as notice

        await enqueue(
            s,
            key=f"undeliverable:{row.chat_id}",
            chat_id=station.staff_chat_id,
            text=notice(title, reason),
            kind="staff",
            due_at=now,
            station_id=station.id,
        )
