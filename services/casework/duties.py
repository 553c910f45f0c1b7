"""The station's 权责清单 (which unit handles which matters) and the routing suggestions at 交办.

Loaded from a CSV/xlsx file (`liaison-bot units import FILE`) or one unit at a time by staff
(`/duty 单位 事项、事项`). Units the list names that the station does not have yet are added as
责任单位, so each suggestion is a unit staff can assign with one tap. Suggestions come from the
list and from the station's own past assignments (domain.routing), each with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.staff as st
import texts.staff_duties as dut
from domain.channels import Sender
from domain.message import Message
from domain.routing import DutyRule, RoutingError, Suggestion, parse_duty_list, parse_duty_rows
from domain.states import UnitKind
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.people import default_station, station_by_code
from services.kernel.routes import load_rules, save_rules
from storage.models import Opinion, Station, Unit

SUGGESTED = 3


@dataclass(frozen=True)
class Imported:
    ok: bool
    message: str


async def _units_for(
    s: AsyncSession, ctx: ServiceContext, station: Station, rules: list[DutyRule]
) -> int:
    """Add the units the list names that the station lacks (as 责任单位); how many were added."""
    have = set(
        (await s.execute(select(Unit.name).where(Unit.station_id == station.id, Unit.active)))
        .scalars()
        .all()
    )
    added = 0
    for rule in rules:
        if rule.unit not in have:
            s.add(
                Unit(
                    station_id=station.id,
                    kind=UnitKind.DEPARTMENT,
                    name=rule.unit[:100],
                    created_at=ctx.clock.now(),
                )
            )
            have.add(rule.unit)
            added += 1
    return added


async def _store(
    s: AsyncSession, ctx: ServiceContext, station: Station, rules: list[DutyRule], source: str
) -> int:
    added = await _units_for(s, ctx, station, rules)
    await save_rules(s, station.id, rules, source, ctx.clock.now())
    ctx.routes.reset(station.id)
    return added


async def import_duty_file(
    ctx: ServiceContext, data: bytes, filename: str, station_code: str | None = None
) -> Imported:
    """Replace the station's duty list with a file's (CSV in UTF-8/GBK, or xlsx)."""
    try:
        parsed = parse_duty_list(data, filename)
    except RoutingError as exc:
        return Imported(False, str(exc))
    async with ctx.sessions.begin() as s:
        station = await station_by_code(s, station_code) if station_code else None
        if station_code and station is None:
            return Imported(False, dut.duty_station_unknown(station_code))
        station = station or await default_station(s, ctx)
        added = await _store(s, ctx, station, parsed.rules, filename)
    return Imported(
        True, dut.duty_imported(station.name, len(parsed.rules), added, parsed.problems)
    )


async def duty_command(ctx: ServiceContext, sender: Sender, raw: str) -> Message:
    """`/duty` lists the duty list; `/duty 单位 事项、事项` adds matters to a unit (staff)."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        rules = await load_rules(s, station.id)
        parts = raw.split(maxsplit=1)
        if len(parts) < 2:
            return Message(dut.duty_list(rules))
        try:
            parsed = parse_duty_rows([["单位", "事项"], parts], "/duty")
        except RoutingError:
            return Message(dut.duty_usage())
        new = parsed.rules[0]
        old = next((r for r in rules if r.unit == new.unit), None)
        if old is not None:
            new = DutyRule(
                new.unit, tuple(dict.fromkeys(old.keywords + new.keywords)), old.themes, old.note
            )
        rules = [r for r in rules if r.unit != new.unit] + [new]
        added = await _store(s, ctx, station, rules, f"/duty {who.name}")
        return Message(dut.duty_added(new.unit, new.keywords, added > 0))


async def suggested_units(
    s: AsyncSession, ctx: ServiceContext, op: Opinion
) -> list[tuple[Unit, Suggestion]]:
    """The station's active units that best match the opinion, best first, with the reason."""
    model = await ctx.routes.model(s, op.station_id)
    if not model.units:
        return []
    ranked = model.rank(op.text, (op.theme, ctx.theme_label(op.theme)), k=SUGGESTED + 2)
    if not ranked:
        return []
    units = {
        u.name: u
        for u in (
            await s.execute(
                select(Unit).where(
                    Unit.station_id == op.station_id,
                    Unit.active,
                    Unit.name.in_([r.unit for r in ranked]),
                )
            )
        ).scalars()
    }
    return [(units[r.unit], r) for r in ranked if r.unit in units][:SUGGESTED]
