"""The outbox's statements: insert once by key, and the claim of due rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, text
from sqlalchemy.orm import aliased

from domain.states import OutboxStatus
from storage.models import Outbox, UTCDateTime

# The condition of the partial index ix_outbox_due, repeated word for word: SQLite (and a generic
# PostgreSQL plan with bound values) use a partial index only for a query that states it.
ACTIVE = text("outbox.status IN ('pending', 'sending')")


def insert_once(insert: Callable[[Any], Any]) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING, for storage.upsert.prebuilt_for."""
    return insert(Outbox.__table__).on_conflict_do_nothing(index_elements=["key"])


def due_condition() -> Any:
    now: Any = bindparam("now", type_=UTCDateTime())
    return or_(
        and_(Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= now),
        and_(Outbox.status == OutboxStatus.SENDING, Outbox.lease_until < now),
    )


def held_elsewhere() -> Any:
    """Another dispatcher is sending to this chat (a live lease): its rows wait for it, so one
    dispatcher at a time writes to a chat and paces it from the chat's sends in the table."""
    other = aliased(Outbox)
    now: Any = bindparam("now", type_=UTCDateTime())
    return (
        exists()
        .where(
            other.channel == Outbox.channel,
            other.chat_id == Outbox.chat_id,
            other.status == OutboxStatus.SENDING,
            other.lease_until >= now,
            other.lease_owner != bindparam("owner"),
        )
        .correlate(Outbox)
    )


def recent_sends() -> Any:
    """When each of :chats (on :channel) was last written to since :since, by any dispatcher."""
    return select(Outbox.chat_id, Outbox.sent_at).where(
        Outbox.channel == bindparam("channel"),
        Outbox.chat_id.in_(bindparam("chats", expanding=True)),
        Outbox.status == OutboxStatus.SENT,
        Outbox.sent_at >= bindparam("since", type_=UTCDateTime()),
    )


def pick_due() -> Any:
    """Ids of up to :limit due rows of :channels, at most :per_chat per chat, oldest first.

    The per-chat cap makes each batch round-robin across chats, so one group's backlog (held
    back by its own limit) never delays the others.
    """
    # `channel || ''`: the channel is a filter here, not a way in. Without it SQLite walks
    # ix_outbox_chat_sent over every row of the channel (all of the outbox) instead of the
    # partial ix_outbox_due over the rows still to send.
    channel = Outbox.channel + literal("")
    due = and_(
        ACTIVE,
        due_condition(),
        channel.in_(bindparam("channels", expanding=True)),
        ~held_elsewhere(),
    )
    rank = (
        func.row_number()
        .over(partition_by=(Outbox.channel, Outbox.chat_id), order_by=(Outbox.due_at, Outbox.id))
        .label("rank")
    )
    ranked = select(Outbox.id, Outbox.due_at, rank).where(due).subquery()
    candidates = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("per_chat"))
        .order_by(ranked.c.due_at, ranked.c.id)
        .limit(bindparam("limit"))
    )
    return select(Outbox.id).where(Outbox.id.in_(candidates))


CLAIMED_COLUMNS = (
    Outbox.id,
    Outbox.key,
    Outbox.kind,
    Outbox.channel,
    Outbox.chat_id,
    Outbox.message,
    Outbox.file_data,
    Outbox.due_at,
    Outbox.attempts,
    Outbox.expires_at,
    Outbox.station_id,
    Outbox.lease_until,
)
