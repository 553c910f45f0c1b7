"""The inbox's statements: store once per (channel, key), claim what is due, finish, prune."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, select, text, update

from domain.states import InboxState
from storage.models import InboxEntry, UTCDateTime

_TABLE = cast(Table, InboxEntry.__table__)


def _now() -> Any:
    return bindparam("now", type_=UTCDateTime())


def insert_once(insert: Callable[[Any], Any]) -> Any:
    """INSERT … ON CONFLICT (channel, key) DO NOTHING, for storage.upsert.prebuilt_for."""
    return insert(_TABLE).on_conflict_do_nothing(index_elements=["channel", "key"])


# Rows still to be handled; the partial index ix_inbox_due covers exactly these (the condition
# is repeated literally so both engines use it), not the done rows that are most of the table.
ACTIVE = "state IN ('pending', 'processing')"


def due_condition() -> Any:
    """Waiting to be (re)processed: pending and due, or leased to a process that went away.

    Every active row has lease_until: the lease, or (pending) when it is due again."""
    return and_(text(ACTIVE), InboxEntry.lease_until <= _now())


PICK_DUE = (
    select(InboxEntry.id)
    .where(InboxEntry.channel == bindparam("in_channel"), due_condition())
    .order_by(InboxEntry.id)
    .limit(bindparam("limit"))
)

CLAIM = (
    update(InboxEntry)
    .where(InboxEntry.id.in_(bindparam("ids", expanding=True)), due_condition())
    .values(
        state=InboxState.PROCESSING,
        lease_owner=bindparam("in_owner"),
        lease_until=bindparam("until", type_=UTCDateTime()),
        attempts=InboxEntry.attempts + 1,
    )
    .returning(InboxEntry.key, InboxEntry.payload, InboxEntry.attempts, InboxEntry.replied)
)

_MINE = and_(
    InboxEntry.channel == bindparam("in_channel"),
    InboxEntry.lease_owner == bindparam("in_owner"),
    InboxEntry.state == InboxState.PROCESSING,
)

# The hot path's statements on the Core table: an ORM-enabled UPDATE (update(InboxEntry)) runs
# SQLAlchemy's session synchronisation for every call, twice the cost of the statement itself.
_C = _TABLE.c
_THIS = and_(_C.channel == bindparam("in_channel"), _C.key == bindparam("in_key"))
_DONE = {
    "state": InboxState.DONE.value,
    "finished_at": _now(),
    "lease_until": None,
    "last_error": None,
}

FINISH = update(_TABLE).where(_THIS).values(**_DONE)

FINISH_MANY = (
    update(_TABLE)
    .where(
        _C.channel == bindparam("in_channel"),
        _C.key.in_(bindparam("in_keys", expanding=True)),
        _C.state == InboxState.PROCESSING.value,
    )
    .values(**_DONE)
)

# A message of the answer was sent: its own transaction, at once (services.kernel.inbox).
REPLIED = update(_TABLE).where(_THIS).values(replied=bindparam("replied"))

REPLIED_AND_DONE = update(_TABLE).where(_THIS).values(replied=bindparam("replied"), **_DONE)

# Which keys of a batch are stored already (a batch is one getUpdates answer: one consumer).
STORED_KEYS = select(_C.key).where(
    _C.channel == bindparam("in_channel"), _C.key.in_(bindparam("in_keys", expanding=True))
)

RETRY_LATER = (
    update(InboxEntry)
    .where(_MINE, InboxEntry.key == bindparam("in_key"))
    .values(
        state=InboxState.PENDING,
        lease_owner=None,
        lease_until=bindparam("retry_at", type_=UTCDateTime()),
        last_error=bindparam("error"),
    )
    .returning(InboxEntry.attempts)
)

GIVE_UP = (
    update(InboxEntry)
    .where(InboxEntry.channel == bindparam("in_channel"), InboxEntry.key == bindparam("in_key"))
    .values(state=InboxState.FAILED, lease_until=None, finished_at=_now())
)

RENEW = (
    update(InboxEntry)
    .where(_MINE, InboxEntry.key.in_(bindparam("in_keys", expanding=True)))
    .values(lease_until=bindparam("until", type_=UTCDateTime()))
)

RELEASE = (
    update(InboxEntry)
    .where(_MINE, InboxEntry.key.in_(bindparam("in_keys", expanding=True)))
    .values(state=InboxState.PENDING, lease_owner=None, lease_until=_now())
)

PRUNE = delete(InboxEntry).where(
    InboxEntry.state == InboxState.DONE,
    InboxEntry.finished_at < bindparam("before", type_=UTCDateTime()),
)
