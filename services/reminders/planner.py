"""The reminder planner: turns the database's state into outbox rows exactly when they are due.

Each tick it looks at open tasks and active meetings and, for the latest reminder whose moment
has come, inserts an outbox row under a unique key (task 7, due-day reminder; meeting 3,
occurrence 2026-12-16 15:00, one hour before ...). Inserting an existing key does nothing, so ticks,
restarts and several instances produce each reminder once. After downtime only the latest stage
is sent (an obsolete "3 days left" is not sent after the deadline), late ones say they are late,
and a meeting reminder whose meeting has begun is recorded as dropped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter, thread_time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reminders as tr
from domain.channels import Address
from domain.message import Message, Rich
from domain.recurrence import occurrences
from domain.states import MeetingKind, MessageKind, OutboxStatus, TaskStatus
from domain.workdays import WorkCalendar
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.notify import unit_chat
from services.kernel.people import reach
from services.reminders.briefings import plan_briefings
from services.reminders.due import DueTask, TaskChats, due_tasks
from services.reports.digest import plan_digests
from storage.checkpoint import Checkpointer
from storage.models import Meeting, Opinion, Task, Unit, UnitMember, User
from storage.queries.clock import lock_tasks

# Tasks whose moment has come are planned a chunk at a time: their reminders composed in Python,
# then their outbox rows and next moments written in bulk statements (storage.queries.clock).
# SQLite: a chunk is read, composed and written in one transaction (it holds the write lock from
# its first statement), sized by its wall time to about WRITE_SECONDS: the transaction holds the
# only connection and its statements run on the loop's thread, so that is what the chat waits
# for; the WAL is checkpointed in a worker thread (storage.checkpoint).
# PostgreSQL: the chat has connections of its own and waits only for the loop. Tasks are read
# READ_BATCH at a time and composed outside any transaction (yielding every YIELD_SECONDS of this
# thread's CPU), while chunks of PG_CHUNK are written on PG_IN_FLIGHT connections at once, each
# after re-reading its tasks under lock (the server's index work, not Python, is most of a day's
# tick there).
READ_BATCH = {"sqlite": 300, "postgresql": 500}  # sqlite: _Writer used on its own
YIELD_SECONDS = 0.002
WRITE_SECONDS = 0.008
WRITE_MIN, WRITE_START, WRITE_MAX = 20, 100, 1000
PG_CHUNK, PG_IN_FLIGHT = 250, 2


@dataclass(frozen=True, slots=True)
class TaskPlan:
    task: DueTask
    moment: datetime | None  # the task's next moment
    rows: list[outbox.Queued]


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
        added += await self._plan_tasks(now)
        async with self.ctx.sessions.begin() as s:
            added += await self._plan_meetings(s, now)
        added += await self._plan_briefings(now)
        added += await plan_digests(self.ctx, now, self.policy.send_time)  # folded noise
        return added

    # ---- 工作简报 ---------------------------------------------------------------------------
    async def _plan_briefings(self, now: datetime) -> int:
        return await plan_briefings(self.ctx, self.calendar, now)

    # ---- task deadlines ---------------------------------------------------------------------
    async def _plan_tasks(self, now: datetime) -> int:
        """Plan the tasks whose next moment has come (see READ_BATCH above)."""
        eff = self._effective_day(now)
        stages: dict[tuple[date, date], tuple[tuple[str, date, int] | None, date]] = {}
        engine = self.ctx.sessions.kw["bind"].sync_engine
        if engine.dialect.name == "postgresql":
            return await self._plan_tasks_pipelined(now, eff, stages, _Writer(self.ctx, engine))
        checkpoint = Checkpointer(engine)  # SQLite: the WAL checkpointed off the loop
        try:
            return await self._plan_tasks_inline(now, eff, stages, checkpoint)
        finally:
            await checkpoint.wait()

    async def _plan_tasks_pipelined(
        self,
        now: datetime,
        eff: date,
        stages: dict[tuple[date, date], tuple[tuple[str, date, int] | None, date]],
        writer: _Writer,
    ) -> int:
        """PostgreSQL: read a batch, compose it while its chunks are written (_Writer)."""
        added, seen = 0, set[int]()
        chats: TaskChats | None = None
        while True:
            async with self.ctx.sessions.begin() as s:
                rows = await due_tasks(s, now, writer.read_batch)
                fresh = [r for r in rows if r.id not in seen]
                if fresh:
                    chats = chats or await TaskChats.load(s)
                    await chats.add(s, fresh)
            if not fresh or chats is None:
                return added
            seen.update(r.id for r in fresh)
            chunk: list[TaskPlan] = []
            mark = thread_time()
            try:
                for i, task in enumerate(fresh):
                    chunk.append(self._plan_task(task, eff, chats, stages))
                    if len(chunk) >= writer.size:
                        await writer.submit(chunk)
                        chunk = []
                    if i % 16 == 15 and thread_time() - mark > YIELD_SECONDS:
                        await asyncio.sleep(0)
                        mark = thread_time()
                if chunk:
                    await writer.submit(chunk)
            finally:
                added += await writer.drain()
            if len(rows) < writer.read_batch:
                return added

    async def _plan_tasks_inline(
        self,
        now: datetime,
        eff: date,
        stages: dict[tuple[date, date], tuple[tuple[str, date, int] | None, date]],
        checkpoint: Checkpointer,
    ) -> int:
        """SQLite: read, compose and write a chunk in one transaction (it holds the write lock
        from its first statement: nothing changes in between, nothing to re-read), sized by its
        wall time; the chat gets the connection between chunks."""
        added, seen, size = 0, set[int](), WRITE_START
        chats: TaskChats | None = None
        while True:
            started = perf_counter()
            async with self.ctx.sessions.begin() as s:
                rows = await due_tasks(s, now, size)
                fresh = [r for r in rows if r.id not in seen]
                if fresh:
                    chats = chats or await TaskChats.load(s)
                    await chats.add(s, fresh)
                    seen.update(r.id for r in fresh)
                    plans = [self._plan_task(t, eff, chats, stages) for t in fresh]
                    added += await outbox.enqueue_planned(
                        s,
                        [r for p in plans for r in p.rows],
                        [(p.task.id, p.moment) for p in plans],
                    )
            if len(rows) < size or not fresh:
                return added
            checkpoint.poke()
            took = max(perf_counter() - started, 1e-4)
            grown = int(size * WRITE_SECONDS / took)
            size = min(WRITE_MAX, max(WRITE_MIN, min(grown, 2 * size)))
            await asyncio.sleep(0)  # the chat's transactions get the connection in between

    def _plan_task(
        self,
        task: DueTask,
        eff: date,
        chats: TaskChats,
        stages: dict[tuple[date, date], tuple[tuple[str, date, int] | None, date]],
    ) -> TaskPlan:
        """The task's reminders due by `eff` (with their unique keys) and its next moment."""
        if task.status != TaskStatus.OPEN:
            return TaskPlan(task, None, [])
        start = task.assigned_at.astimezone(self.ctx.tz).date()
        known = stages.get((task.due_date, start))
        if known is None:  # tasks share deadlines: the calendar is walked once per pair
            known = stages[(task.due_date, start)] = (
                self._task_stage(task.due_date, eff, start),
                self._next_stage_day(task.due_date, eff, start),
            )
        stage, nxt = known
        plan = TaskPlan(task, self._at(nxt), [])
        if stage is None:
            return plan
        name, day, overdue = stage
        text = tr.task_reminder(name, task.ref_no, task.text, task.due_date, overdue)
        for chat in chats.chats(task):
            key = f"remind:task:{task.id}:{name}:{day.isoformat()}:{chat.key}"
            plan.rows.append(self._queued(key, chat, text, task, self._at(day)))
        staff = chats.staff(task.station_id)
        if staff is not None and self._report_owed(task, overdue, eff):
            report_day = self.calendar.add_workdays(task.due_date, self.policy.report_after).due
            text = tr.overdue_report(
                task.ref_no, task.text, chats.assignee_name(task), task.due_date, overdue
            )
            key = f"remind:task:{task.id}:report"
            plan.rows.append(self._queued(key, staff, text, task, self._at(report_day)))
        return plan

    def _report_owed(self, task: DueTask, overdue: int, eff: date) -> bool:
        """Whether the 逾期通报 may still be missing: on the day it falls due, or whenever the task
        was not planned on its schedule (after downtime, a change): the key makes it once."""
        if overdue < self.policy.report_after:
            return False
        return overdue == self.policy.report_after or task.next_remind_at != self._at(eff)

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

    def _next_stage_day(self, due: date, eff: date, start: date | None = None) -> date:
        """The first day after `eff` whose reminder differs from `eff`'s: the planner's next
        moment for the task. Before the deadline, the first day the stage changes; from the
        deadline on, each next working day (another overdue reminder)."""
        if eff >= due:
            return self.calendar.add_workdays(eff, 1).due
        current = self._task_stage(due, eff, start)
        day = eff + timedelta(days=1)
        while day < due and self._task_stage(due, day, start) == current:
            day += timedelta(days=1)
        return day

    @staticmethod
    def _queued(key: str, to: Address, text: Rich, task: DueTask, due: datetime) -> outbox.Queued:
        return outbox.Queued(
            key=key,
            to=to,
            message=Message(text),
            kind=MessageKind.REMINDER,
            due_at=due,
            station_id=task.station_id,
            opinion_id=task.opinion_id,
        )

    # ---- meetings -------------------------------------------------------------------------------
    async def _plan_meetings(self, s: AsyncSession, now: datetime) -> int:
        """Meetings whose next reminder moment has come (after a change: at once)."""
        added = 0
        meetings = (
            (await s.execute(select(Meeting).where(Meeting.next_remind_at <= now))).scalars().all()
        )
        horizon = max((*self.policy.meeting_offsets, self.policy.reception_notice))
        for m in meetings:
            if not m.active:
                m.next_remind_at = None
                continue
            unit = await s.get(Unit, m.unit_id) if m.unit_id else None
            upcoming = list(
                occurrences(
                    m.starts_at,
                    m.recurrence,
                    self.ctx.tz,
                    self.calendar,
                    now - timedelta(hours=2),
                    limit=3,
                )
            )
            for occ in upcoming:
                if occ - horizon > now:
                    break
                added += await self._meeting_stage(s, m, unit, occ, now)
                if m.kind == MeetingKind.RECEPTION:
                    added += await self._reception_notice(s, m, occ, now)
            m.next_remind_at = self._next_meeting_moment(m, upcoming, now)
        return added

    def _next_meeting_moment(
        self, m: Meeting, upcoming: list[datetime], now: datetime
    ) -> datetime | None:
        """The next moment a reminder of `m` falls due; None when no occurrence is left."""
        if not upcoming:
            return None
        offsets = list(self.policy.meeting_offsets)
        if m.kind == MeetingKind.RECEPTION:
            offsets.append(self.policy.reception_notice)
        moments = [occ - off for occ in upcoming for off in offsets if occ - off > now]
        # Occurrences so close together that all three are past due: look again in an hour.
        return min(moments) if moments else now + timedelta(hours=1)

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


class _Writer:
    """Writes task plans a chunk per transaction (see READ_BATCH above)."""

    def __init__(self, ctx: ServiceContext, bind: Any) -> None:
        self.ctx = ctx
        self.sqlite = bind.dialect.name != "postgresql"
        self.read_batch = READ_BATCH["sqlite" if self.sqlite else "postgresql"]
        self.size = WRITE_START if self.sqlite else PG_CHUNK
        self.flight: list[asyncio.Future[int]] = []
        self.added = 0

    async def submit(self, plans: list[TaskPlan]) -> None:
        if not self.sqlite:
            while len(self.flight) >= PG_IN_FLIGHT:
                self.added += await self.flight.pop(0)
            self.flight.append(asyncio.ensure_future(self._write(plans)))
            return
        await asyncio.sleep(0)  # after composing: the chat first
        started = perf_counter()
        self.added += await self._write(plans)
        took = max(perf_counter() - started, 1e-4)
        grown = int(len(plans) * WRITE_SECONDS / took)
        self.size = min(WRITE_MAX, max(WRITE_MIN, min(grown, 2 * self.size)))
        await asyncio.sleep(0)  # the chat's transactions get the connection in between

    async def drain(self) -> int:
        """Wait for the chunks in flight; returns the pending rows added since the last drain."""
        flight, self.flight = self.flight, []
        done = await asyncio.gather(*flight, return_exceptions=True)
        added, self.added = self.added, 0
        for result in done:
            if isinstance(result, BaseException):
                raise result
            added += result
        return added

    async def _write(self, plans: list[TaskPlan]) -> int:
        """Each task's reminders and next moment, if the task still reads as it was planned
        from (a change in between replans it next tick); returns the pending rows added."""
        async with self.ctx.sessions.begin() as s:
            now = await lock_tasks(s, [p.task.id for p in plans])
            kept = [p for p in plans if now.get(p.task.id) == p.task.snapshot()]
            return await outbox.enqueue_planned(
                s, [r for p in kept for r in p.rows], [(p.task.id, p.moment) for p in kept]
            )
