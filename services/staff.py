"""Station staff: binding the staff group (triage and assignment come with casework)."""

from __future__ import annotations

import texts.staff as st
from services.context import ServiceContext
from services.people import Role, default_station, role_of, station_by_code, station_of, upsert_user
from services.types import Reply, Sender
from texts import common as ct


class StaffService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def bind_staff_chat(self, sender: Sender, chat_id: int, code: str | None) -> Reply:
        """An admin makes this group the station's staff chat (where new opinions appear)."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            if code:
                station = await station_by_code(s, code)
                if station is None:
                    return Reply(f"没有找到代码为 {code} 的联络站。")
            else:
                station = (
                    await station_of(s, self.ctx, user)
                    if user.station_id
                    else await default_station(s, self.ctx)
                )
            if await role_of(s, self.ctx, user, station.id) != Role.ADMIN:
                return Reply(ct.NOT_ALLOWED + st.bind_only_admin())
            station.staff_chat_id = chat_id
            return Reply(st.staff_bound(station.name))
