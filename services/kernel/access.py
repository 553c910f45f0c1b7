"""The one permission guard. Every action asks `Actor.allows(need, ...)` once, with what it is
about to touch; each rule (who is staff, who may act on a task, who owns an opinion) is written
here and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Sender
from domain.states import Role
from services.kernel.context import ServiceContext
from services.kernel.people import Person, station_of, upsert_person
from storage.models import CoSigner, Identity, Opinion, Station, StationRole, Task, UnitMember, User


class Need(StrEnum):
    ADMIN = "admin"  # ADMIN_IDS
    STAFF = "staff"  # admin or staff of the station
    ASSIGNEE = "assignee"  # the task's representative, a member of its unit, or staff
    OWNER = "owner"  # the resident who wrote the opinion
    RESIDENT = "resident"  # the resident or a co-signer of a merged duplicate


class Actor:
    """The person acting, resolved once per action; their role per station is read once."""

    def __init__(self, s: AsyncSession, ctx: ServiceContext, person: Person) -> None:
        self.s = s
        self.ctx = ctx
        self.person = person
        self._roles: dict[int, Role] = {}
        self._admin: bool | None = None

    @property
    def user(self) -> User:
        return self.person.user

    @property
    def id(self) -> int:
        return self.person.user.id

    @property
    def name(self) -> str:
        return self.person.user.display_name

    async def station(self) -> Station:
        return await station_of(self.s, self.ctx, self.person.user)

    async def _is_admin(self) -> bool:
        """ADMIN_IDS names identities; a person is admin through any identity of theirs."""
        if self._admin is None:
            ids = self.ctx.admin_ids
            if not ids:
                self._admin = False
            elif (self.person.identity.channel, self.person.identity.external_id) in ids:
                self._admin = True
            else:
                found = await self.s.execute(
                    select(Identity.id).where(
                        Identity.user_id == self.id,
                        tuple_(Identity.channel, Identity.external_id).in_(sorted(ids)),
                    )
                )
                self._admin = found.first() is not None
        return self._admin

    async def is_admin_anywhere(self) -> bool:
        """ADMIN_IDS, or the admin role at any station."""
        if await self._is_admin():
            return True
        found = await self.s.execute(
            select(StationRole.id).where(
                StationRole.user_id == self.id, StationRole.role == Role.ADMIN
            )
        )
        return found.first() is not None

    async def role(self, station_id: int) -> Role:
        """ADMIN_IDS first, then the station_roles table."""
        if station_id not in self._roles:
            if await self._is_admin():
                self._roles[station_id] = Role.ADMIN
            else:
                stored = (
                    await self.s.execute(
                        select(StationRole.role).where(
                            StationRole.station_id == station_id, StationRole.user_id == self.id
                        )
                    )
                ).scalar_one_or_none()
                self._roles[station_id] = Role(stored) if stored else Role.RESIDENT
        return self._roles[station_id]

    async def allows(
        self,
        need: Need,
        *,
        station_id: int | None = None,
        task: Task | None = None,
        opinion: Opinion | None = None,
    ) -> bool:
        """The guard. `station_id` for ADMIN/STAFF, `task` for ASSIGNEE, `opinion` otherwise."""
        if need is Need.ADMIN:
            assert station_id is not None
            return await self.role(station_id) is Role.ADMIN
        if need is Need.STAFF:
            assert station_id is not None
            return await self.role(station_id) in (Role.ADMIN, Role.STAFF)
        if need is Need.ASSIGNEE:
            assert task is not None
            return await self._on_task(task)
        assert opinion is not None
        if need is Need.OWNER:
            return opinion.resident_id == self.id
        return await self._resident_of(opinion)

    async def _on_task(self, task: Task) -> bool:
        if task.assignee_user_id == self.id:
            return True
        if task.assignee_unit_id is not None:
            member = (
                await self.s.execute(
                    select(UnitMember.id).where(
                        UnitMember.unit_id == task.assignee_unit_id, UnitMember.user_id == self.id
                    )
                )
            ).scalar_one_or_none()
            if member is not None:
                return True
        return await self.allows(Need.STAFF, station_id=task.station_id)

    async def _resident_of(self, opinion: Opinion) -> bool:
        if opinion.resident_id == self.id:
            return True
        found = await self.s.execute(
            select(CoSigner.id).where(
                CoSigner.opinion_id == opinion.id, CoSigner.user_id == self.id
            )
        )
        return found.first() is not None


async def actor(s: AsyncSession, ctx: ServiceContext, sender: Sender) -> Actor:
    person, _ = await upsert_person(s, sender)
    return Actor(s, ctx, person)
