"""Meetings, reception days, announcements and residents' subscriptions, managed from chat."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.meetings as tm
from domain.channels import Sender
from domain.message import Message as Reply
from domain.message import Rich
from domain.recurrence import RecurrenceError, describe, occurrences, parse_rule
from domain.states import MeetingKind, MessageKind
from domain.workdays import WorkCalendar
from services.kernel import outbox
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.notify import unit_chat
from services.kernel.replan import replan_receptions
from storage.models import REPLAN_AT, Announcement, Meeting, Station, Unit, User

FIELD_NAMES = {"时间": "time", "地点": "place", "标题": "title", "重复": "rule", "工作组": "unit"}
ALL_GROUPS = ("全部", "所有", "全体", "all")
NOTIFY = re.compile(r"\s*(\S+)\s+(?:@\s*([^\s]+\s+\d{1,2}[:：]\d{2})\s+)?(.+)", re.S)


def meeting_kind(title: str) -> MeetingKind:
    if "接待" in title:
        return MeetingKind.RECEPTION
    if "调度" in title:
        return MeetingKind.DISPATCH
    if "推进" in title:
        return MeetingKind.PROGRESS
    return MeetingKind.OTHER


def _plain(text: str) -> Reply:
    return Reply(Rich.plain_text(text))


@dataclass
class MeetingService:
    ctx: ServiceContext
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def parse_time(self, raw: str) -> datetime:
        """'2026-12-01 15:00', '12-01 15:00' or '12月1日 15:00' in the station's time zone."""
        text = raw.strip().replace("：", ":")
        now = self.ctx.clock.now().astimezone(self.ctx.tz)
        m = re.fullmatch(r"(?:(\d{4})[-/年])?(\d{1,2})[-/月](\d{1,2})日?\s*(\d{1,2}):(\d{2})", text)
        if not m:
            raise ValueError(tm.bad_time(raw[:40]))
        year = int(m.group(1)) if m.group(1) else now.year
        try:
            when = datetime(
                year,
                int(m.group(2)),
                int(m.group(3)),
                int(m.group(4)),
                int(m.group(5)),
                tzinfo=self.ctx.tz,
            )
        except ValueError:
            raise ValueError(tm.bad_time(raw[:40])) from None
        if not m.group(1) and when < now:
            when = when.replace(year=year + 1)
        return when

    async def _staff(self, s: AsyncSession, sender: Sender) -> tuple[User, Station] | None:
        who = await actor(s, self.ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return None
        return who.user, station

    async def _unit(self, s: AsyncSession, station_id: int, name: str) -> Unit | None:
        return (
            await s.execute(
                select(Unit).where(
                    Unit.station_id == station_id, Unit.name == name.strip(), Unit.active
                )
            )
        ).scalar_one_or_none()

    async def create(self, sender: Sender, spec: str) -> Reply:
        """`/meeting 组名 | 标题 | 时间 | 重复 | 地点` (重复 and 地点 optional)."""
        async with self.ctx.sessions.begin() as s:
            staff = await self._staff(s, sender)
            if staff is None:  # before anything typed is read: residents learn nothing more
                return Reply(tm.only_staff())
            user, station = staff
            parts = [p.strip() for p in spec.split("|")]
            if len(parts) < 3 or not all(parts[:3]):
                return Reply(tm.usage())
            group, title, when_raw = parts[:3]
            rule_raw = parts[3] if len(parts) > 3 else "一次"
            place = parts[4] if len(parts) > 4 else ""
            if len(title) > 100 or len(place) > 100:
                return Reply(tm.too_long())
            try:
                when = self.parse_time(when_raw)
                rule = parse_rule(rule_raw)
            except (ValueError, RecurrenceError) as exc:
                return _plain(str(exc))
            kind = meeting_kind(title)
            unit = None
            if group not in ("-", "无", "全站"):
                unit = await self._unit(s, station.id, group)
                if unit is None:
                    return Reply(tm.unit_unknown(group[:40]))
            elif kind != MeetingKind.RECEPTION:
                return Reply(tm.needs_group())
            m = Meeting(
                station_id=station.id,
                unit_id=unit.id if unit else None,
                kind=kind,
                title=title,
                place=place,
                starts_at=when,
                recurrence=rule,
                created_by_id=user.id,
                created_at=self.ctx.clock.now(),
                updated_at=self.ctx.clock.now(),
            )
            s.add(m)
            await s.flush()
            nxt = self._next(m)
            return Reply(
                tm.created(m.id, title, unit.name if unit else None, nxt, describe(rule), place)
            )

    def _next(self, m: Meeting) -> datetime | None:
        found = list(
            occurrences(
                m.starts_at, m.recurrence, self.ctx.tz, self.calendar, self.ctx.clock.now(), 1
            )
        )
        return found[0].astimezone(self.ctx.tz) if found else None

    async def list(self, sender: Sender) -> Reply:
        async with self.ctx.sessions.begin() as s:
            staff = await self._staff(s, sender)
            if staff is None:
                return Reply(tm.only_staff())
            _, station = staff
            rows = (
                await s.execute(
                    select(Meeting, Unit)
                    .join(Unit, Unit.id == Meeting.unit_id, isouter=True)
                    .where(Meeting.station_id == station.id, Meeting.active)
                    .order_by(Meeting.id)
                )
            ).all()
            items = [
                (
                    m.id,
                    m.title,
                    u.name if u else None,
                    self._next(m),
                    describe(m.recurrence),
                    m.place,
                )
                for m, u in rows
            ]
            return Reply(tm.listing(items))

    async def edit(self, sender: Sender, meeting_id: int, field_name: str, value: str) -> Reply:
        key = FIELD_NAMES.get(field_name.strip())
        if key is None or not value.strip():
            return Reply(tm.edit_usage())
        async with self.ctx.sessions.begin() as s:
            m = await self._meeting(s, sender, meeting_id)
            if isinstance(m, Reply):
                return m
            station_id = m.station_id
            try:
                if key == "time":
                    m.starts_at = self.parse_time(value)
                elif key == "rule":
                    m.recurrence = parse_rule(value)
                elif key == "place":
                    m.place = value.strip()[:100]
                elif key == "title":
                    m.title = value.strip()[:100]
                    m.kind = meeting_kind(m.title)
                else:
                    unit = await self._unit(s, station_id, value)
                    if unit is None:
                        return Reply(tm.unit_unknown(value[:40]))
                    m.unit_id = unit.id
            except (ValueError, RecurrenceError) as exc:
                return _plain(str(exc))
            m.version += 1
            m.updated_at = self.ctx.clock.now()
            m.next_remind_at = REPLAN_AT
            await self._announce(
                s, m, tm.changed(m.title, self._next(m), describe(m.recurrence), m.place), "changed"
            )
            return Reply(tm.edited(m.id, self._next(m)))

    async def _meeting(self, s: AsyncSession, sender: Sender, meeting_id: int) -> Meeting | Reply:
        """The station's active meeting for a staff member, or the refusal to send instead."""
        staff = await self._staff(s, sender)
        if staff is None:
            return Reply(tm.only_staff())
        _, station = staff
        m = await s.get(Meeting, meeting_id)
        if m is None or m.station_id != station.id or not m.active:
            return Reply(tm.not_found(meeting_id))
        return m

    async def cancel(self, sender: Sender, meeting_id: int) -> Reply:
        async with self.ctx.sessions.begin() as s:
            m = await self._meeting(s, sender, meeting_id)
            if isinstance(m, Reply):
                return m
            m.active = False
            m.version += 1
            m.next_remind_at = None
            await self._announce(s, m, tm.cancelled(m.title), "cancelled")
            return Reply(tm.cancelled_ok(m.id, m.title))

    async def _announce(self, s: AsyncSession, m: Meeting, text: Rich, what: str) -> None:
        chat = unit_chat(await s.get(Unit, m.unit_id) if m.unit_id else None)
        if chat is None:
            return
        await outbox.enqueue(
            s,
            key=f"meeting:{m.id}:v{m.version}:{what}",
            to=chat,
            message=Reply(text),
            kind=MessageKind.NOTICE,
            due_at=self.ctx.clock.now(),
            station_id=m.station_id,
        )

    async def announce(self, sender: Sender, spec: str) -> Reply:
        """`/notify 组名[,组名]|全部 [@时间] 内容`: now or at a set time, tracked per group."""
        async with self.ctx.sessions.begin() as s:
            staff = await self._staff(s, sender)
            if staff is None:
                return Reply(tm.only_staff())
            user, station = staff
            m = NOTIFY.fullmatch(spec)
            if not m:
                return Reply(tm.notify_usage())
            targets_raw, when_raw, body = m.group(1), m.group(2), m.group(3).strip()
            if len(body) > 3000:
                return Reply(tm.too_long())
            try:
                send_at = self.parse_time(when_raw) if when_raw else self.ctx.clock.now()
            except ValueError as exc:
                return _plain(str(exc))
            units = await self._targets(s, station.id, targets_raw)
            if isinstance(units, Reply):
                return units
            bound = [u for u in units if u.chat_id is not None]
            if not bound:
                return Reply(tm.no_bound_groups())
            await self._post(s, station.id, user.id, body, bound, send_at)
            skipped = [u.name for u in units if u.chat_id is None]
            return Reply(
                tm.announced([u.name for u in bound], send_at.astimezone(self.ctx.tz), skipped)
            )

    async def _targets(self, s: AsyncSession, station_id: int, raw: str) -> Sequence[Unit] | Reply:
        """The groups named in /notify (or all of them); a reply if a name is unknown."""
        if raw in ALL_GROUPS:
            query = select(Unit).where(Unit.station_id == station_id, Unit.active)
            return list((await s.execute(query)).scalars())
        units: tuple[Unit, ...] = ()
        for name in re.split(r"[,，、]", raw):
            unit = await self._unit(s, station_id, name)
            if unit is None:
                return Reply(tm.unit_unknown(name[:40]))
            units += (unit,)
        return units

    async def _post(
        self,
        s: AsyncSession,
        station_id: int,
        user_id: int,
        body: str,
        bound: Sequence[Unit],
        send_at: datetime,
    ) -> None:
        """Record the announcement and queue it to each bound group's chat for `send_at`."""
        ann = Announcement(
            station_id=station_id,
            text=body,
            unit_ids=[str(u.id) for u in bound],
            send_at=send_at,
            created_by_id=user_id,
            created_at=self.ctx.clock.now(),
        )
        s.add(ann)
        await s.flush()
        for u in bound:
            chat = unit_chat(u)
            assert chat is not None
            await outbox.enqueue(
                s,
                key=f"ann:{ann.id}:{u.id}",
                to=chat,
                message=Reply(tm.announcement(body)),
                kind=MessageKind.NOTICE,
                due_at=send_at,
                station_id=station_id,
            )

    async def subscribe(self, sender: Sender, on: bool) -> Reply:
        async with self.ctx.sessions.begin() as s:
            who = await actor(s, self.ctx, sender)
            await who.station()
            who.user.subscribed = on
            if on:
                await replan_receptions(s, who.user.station_id)
            return Reply(tm.subscribed(on))
