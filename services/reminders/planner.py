"""The reminder planner: turns the database's state into outbox rows exactly when they are due.

Each tick it looks at open tasks and active meetings and, for the latest reminder whose moment
has come, inserts an outbox row under a unique key (task 7, due-day reminder; meeting 3,
occurrence 2026-12-16 15:00, one hour before ...). Inserting an existing key does nothing, so ticks,
restarts and several instances produce each reminder once. After downtime only the latest stage
is sent (an obsolete "3 days left" is not sent after the deadline), late ones say they are late,
and a meeting reminder whose meeting has begun is recorded as dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reminders as tr
from domain.channels import Address
from domain.message import FileRef, Message, Rich
from domain.recurrence import occurrences
from domain.states import MeetingKind, MessageKind, OutboxStatus, TaskStatus
from domain.workdays import WorkCalendar
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.notify import unit_chat
from services.kernel.people import reach, staff_chat
from services.reports.digest import plan_digests
from storage.models import Meeting, Opinion, Outbox, Station, Task, Unit, UnitMember, User


@dataclass(frozen=True)
class ReminderPolicy:
    send_time: time = time(9, 0)
    days_before: int = 3
    report_after: int = 3  # overdue working days before the case is reported (通报) to staff
    meeting_offsets: tuple[timedelta, ...] = (timedelta(days=1), timedelta(hours=1))
    reception_notice: timedelta = timedelta(days=3)


@dataclass
class ReminderPlanner:
    ctx: ServiceContext
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)

    def _at(self, day: date) -> datetime:
        return datetime.combine(day, self.policy.send_time, tzinfo=self.ctx.tz)

    def _effective_day(self, now: datetime) -> date:
        """The latest local day whose send time has passed."""
        local = now.astimezone(self.ctx.tz)
        day = local.date()
        return day if local.time() >= self.policy.send_time else day - timedelta(days=1)

    async def plan(self) -> int:
        """Insert every reminder that is due now; returns how many rows were added."""
        now = self.ctx.clock.now()
        added = 0
        async with self.ctx.sessions.begin() as s:
            added += await self._plan_tasks(s, now)
            added += await self._plan_meetings(s, now)
        added += await self._plan_briefings(now)
        added += await plan_digests(self.ctx, now, self.policy.send_time)  # folded noise
        return added

    # ---- 工作简报 ---------------------------------------------------------------------------
    async def _plan_briefings(self, now: datetime) -> int:
        """Post each station's scheduled briefing (text, then its chart) once per slot.

        Only a slot from the last day is posted: a bot started months after install does not
        post an old briefing nobody asked for.
        """
        from services.reports.briefing import build_briefing
        from services.reports.schedule import latest_briefing_slot

        async with self.ctx.sessions() as s:
            stations = (
                (await s.execute(select(Station).where(Station.staff_chat_id.is_not(None))))
                .scalars()
                .all()
            )
        added = 0
        for station in stations:
            slot = await latest_briefing_slot(self.ctx, station.id, now, self.calendar)
            if slot is None or now - slot.at > timedelta(days=1):
                continue
            async with self.ctx.sessions() as s:
                done = (
                    await s.execute(select(Outbox.id).where(Outbox.key == slot.key))
                ).scalar_one_or_none()
            if done is not None:
                continue
            briefing = await build_briefing(self.ctx, station.id, slot.period, self.calendar)
            chat = staff_chat(station)
            assert chat is not None
            async with self.ctx.sessions.begin() as s:
                if await outbox.enqueue(
                    s,
                    key=slot.key,
                    to=chat,
                    message=Message(briefing.text),
                    kind=MessageKind.BRIEFING,
                    due_at=slot.at,
                    station_id=station.id,
                ):
                    added += 1
                    if briefing.chart is not None:
                        chart = Message(file=FileRef("image", "chart.png"), data=briefing.chart)
                        await outbox.enqueue(
                            s,
                            key=slot.key + ":chart",
                            to=chat,
                            message=chart,
                            kind=MessageKind.BRIEFING,
                            due_at=slot.at + timedelta(seconds=1),
                            station_id=station.id,
                        )
        return added

    # ---- task deadlines ---------------------------------------------------------------------
    async def _plan_tasks(self, s: AsyncSession, now: datetime) -> int:
        eff = self._effective_day(now)
        rows = (
            await s.execute(
                select(Task, Opinion)
                .join(Opinion, Opinion.id == Task.opinion_id)
                .where(Task.status == TaskStatus.OPEN)
            )
        ).all()
        added = 0
        for task, op in rows:
            start = task.assigned_at.astimezone(self.ctx.tz).date()
            stage = self._task_stage(task.due_date, eff, start)
            if stage is None:
                continue
            name, day, overdue = stage
            text = tr.task_reminder(name, op.ref_no, op.text, task.due_date, overdue)
            for chat in await self._task_chats(s, task):
                added += await self._put(
                    s,
                    key=f"remind:task:{task.id}:{name}:{day.isoformat()}:{chat.key}",
                    to=chat,
                    text=text,
                    due=self._at(day),
                    station_id=task.station_id,
                    opinion_id=op.id,
                )
            if overdue >= self.policy.report_after:
                report_day = self.calendar.add_workdays(task.due_date, self.policy.report_after).due
                station = await s.get(Station, task.station_id)
                staff = staff_chat(station) if station is not None else None
                if staff is not None:
                    assignee = await self._assignee_name(s, task)
                    added += await self._put(
                        s,
                        key=f"remind:task:{task.id}:report",
                        to=staff,
                        text=tr.overdue_report(
                            op.ref_no, op.text, assignee, task.due_date, overdue
                        ),
                        due=self._at(report_day),
                        station_id=task.station_id,
                        opinion_id=op.id,
                    )
        return added

    def _task_stage(
        self, due: date, eff: date, start: date | None = None
    ) -> tuple[str, date, int] | None:
        """(stage, its day, overdue working days) of the latest reminder due by `eff`.

        No reminder is dated before the task existed: the first ("pre") comes at the earliest
        the day after `start` (the day of 交办), and not at all when that is the due day.
        """
        pre = self.calendar.sub_workdays(due, self.policy.days_before)
        if start is not None and pre <= start:
            pre = start + timedelta(days=1)
        if eff < min(pre, due):
            return None
        if eff < due:
            return "pre", pre, 0
        overdue = self.calendar.workdays_between(due, eff)
        if overdue <= 0:
            return "due", due, 0
        return "overdue", self.calendar.add_workdays(due, overdue).due, overdue

    async def _task_chats(self, s: AsyncSession, task: Task) -> list[Address]:
        chats: list[Address] = []
        if task.assignee_user_id is not None:
            found = await reach(s, [task.assignee_user_id])  # blocked identities are skipped
            chats += found.values()
        if task.assignee_unit_id is not None:
            chat = unit_chat(await s.get(Unit, task.assignee_unit_id))
            if chat is not None:
                chats.append(chat)
            if task.acknowledged_by_id is not None:
                ack = (await reach(s, [task.acknowledged_by_id])).get(task.acknowledged_by_id)
                if ack is not None and ack not in chats:
                    chats.append(ack)
        return chats

    async def _assignee_name(self, s: AsyncSession, task: Task) -> str:
        if task.assignee_user_id is not None:
            user = await s.get(User, task.assignee_user_id)
            return user.display_name if user else "—"
        unit = await s.get(Unit, task.assignee_unit_id) if task.assignee_unit_id else None
        return unit.name if unit else "—"

    # ---- meetings -------------------------------------------------------------------------------
    async def _plan_meetings(self, s: AsyncSession, now: datetime) -> int:
        added = 0
        meetings = (await s.execute(select(Meeting).where(Meeting.active))).scalars().all()
        horizon = max((*self.policy.meeting_offsets, self.policy.reception_notice))
        for m in meetings:
            unit = await s.get(Unit, m.unit_id) if m.unit_id else None
            for occ in occurrences(
                m.starts_at,
                m.recurrence,
                self.ctx.tz,
                self.calendar,
                now - timedelta(hours=2),
                limit=3,
            ):
                if occ - horizon > now:
                    break
                added += await self._meeting_stage(s, m, unit, occ, now)
                if m.kind == MeetingKind.RECEPTION:
                    added += await self._reception_notice(s, m, occ, now)
        return added

    async def _meeting_stage(
        self, s: AsyncSession, m: Meeting, unit: Unit | None, occ: datetime, now: datetime
    ) -> int:
        due = [
            (occ - off, i) for i, off in enumerate(self.policy.meeting_offsets) if occ - off <= now
        ]
        chat = unit_chat(unit)
        if not due or chat is None or unit is None:
            return 0
        when, idx = max(due)
        agenda = await self._agenda(s, unit, now)
        text = tr.meeting_reminder(m.title, m.place, occ.astimezone(self.ctx.tz), idx == 0, agenda)
        return await self._put(
            s,
            key=f"remind:meeting:{m.id}:{occ.astimezone(self.ctx.tz):%Y%m%d%H%M}:{idx}",
            to=chat,
            text=text,
            due=when,
            station_id=m.station_id,
            expires=occ,
        )

    async def _reception_notice(
        self, s: AsyncSession, m: Meeting, occ: datetime, now: datetime
    ) -> int:
        when = occ - self.policy.reception_notice
        if when > now:
            return 0
        subscribers = (
            (
                await s.execute(
                    select(User.id).where(User.station_id == m.station_id, User.subscribed)
                )
            )
            .scalars()
            .all()
        )
        added = 0
        text = tr.reception_notice(m.title, m.place, occ.astimezone(self.ctx.tz))
        chats = await reach(s, list(subscribers))  # blocked identities are skipped
        for uid in subscribers:
            chat = chats.get(uid)
            if chat is None:
                continue
            added += await self._put(
                s,
                key=f"remind:reception:{m.id}:{occ.astimezone(self.ctx.tz):%Y%m%d%H%M}:{chat.key}",
                to=chat,
                text=text,
                due=when,
                station_id=m.station_id,
                expires=occ,
            )
        return added

    async def _agenda(
        self, s: AsyncSession, unit: Unit, now: datetime
    ) -> list[tuple[str, str, date, bool]]:
        """The group's overdue tasks and those due within a week: (ref, text, due, overdue)."""
        today = now.astimezone(self.ctx.tz).date()
        week = today + timedelta(days=7)
        member_ids = (
            (await s.execute(select(UnitMember.user_id).where(UnitMember.unit_id == unit.id)))
            .scalars()
            .all()
        )
        cond = Task.assignee_unit_id == unit.id
        if member_ids:
            cond = cond | Task.assignee_user_id.in_(member_ids)
        rows = (
            await s.execute(
                select(Task, Opinion)
                .join(Opinion, Opinion.id == Task.opinion_id)
                .where(cond, Task.status == "open", Task.due_date <= week)
                .order_by(Task.due_date, Task.id)
            )
        ).all()
        return [(op.ref_no, op.text, task.due_date, task.due_date < today) for task, op in rows]

    # ---- insertion -------------------------------------------------------------------------------
    async def _put(
        self,
        s: AsyncSession,
        *,
        key: str,
        to: Address,
        text: Rich,
        due: datetime,
        station_id: int | None,
        opinion_id: int | None = None,
        expires: datetime | None = None,
    ) -> int:
        now = self.ctx.clock.now()
        # Downtime swallowed the moment: record it as dropped, never send it.
        gone = expires is not None and expires <= now
        added = await outbox.enqueue(
            s,
            key=key,
            to=to,
            message=Message(text),
            kind=MessageKind.REMINDER,
            due_at=due,
            station_id=station_id,
            opinion_id=opinion_id,
            expires_at=expires,
            status=OutboxStatus.DROPPED if gone else OutboxStatus.PENDING,
            note="meeting already started" if gone else None,
        )
        return 1 if added and not gone else 0
