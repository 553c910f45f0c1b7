"""The person behind a sender, in one trip: identity, user, their station (and extra columns)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select

from storage.models import Identity, Station, User

# The identity is read as plain columns (not an ORM object: loading a second entity per message
# was a measurable part of the intake path); the user and the station are ORM objects.
IDENTITY_COLUMNS = (
    Identity.id,
    Identity.first_name,
    Identity.last_name,
    Identity.username,
    Identity.blocked,
)
EXTRA_AT = len(IDENTITY_COLUMNS) + 2  # where a person_query()'s extra columns start


def person_query(*extra: Any) -> Select[Any]:
    """Identity columns, user and station by (channel, external id); callers on a hot path add
    their own lookups as `extra` scalar subqueries (correlated on User.id), built once."""
    return (
        select(*IDENTITY_COLUMNS, User, Station, *extra)
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
