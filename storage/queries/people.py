"""The person behind a sender, in one trip: identity, user, their station (and extra columns)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select

from storage.models import Identity, Station, User


def person_query(*extra: Any) -> Select[Any]:
    """Identity, user and station by (channel, external id); callers on a hot path add their own
    lookups as `extra` scalar subqueries (correlated on User.id) and build the statement once."""
    return (
        select(Identity, User, Station, *extra)
        .join(User, User.id == Identity.user_id)
        .outerjoin(Station, Station.id == User.station_id)
        .where(
            Identity.channel == bindparam("channel"),
            Identity.external_id == bindparam("external_id"),
        )
    )


PERSON = person_query()

# Where to reach each of several people: their reach identity if it is not blocked, else any
# unblocked identity (the lowest id); one row per identity, the caller keeps the first per user.
REACH = (
    select(
        Identity.user_id,
        Identity.id,
        Identity.channel,
        Identity.external_id,
        User.reach_identity_id,
    )
    .join(User, User.id == Identity.user_id)
    .where(Identity.user_id.in_(bindparam("users", expanding=True)), Identity.blocked.is_(False))
    .order_by(Identity.user_id, Identity.id)
)
