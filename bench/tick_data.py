"""A large station for bench/tick.py, built in bulk on the migrated schema.

The station, staff, representatives and units come from the real services; residents, opinions,
tasks, ratings and outbox rows are generated (seeded) with the values the services write and
inserted in chunks (executemany on SQLite, COPY on PostgreSQL). Proportions follow issue 12's
1M-opinion database: 34.3 % of opinions have a task, 1.13 % an open one, 0.64 % an overdue one,
most closed tasks are rated. The outbox holds what a bot with retention keeps: the last 120 days
(30 days past the 90-day retention, so the first ticks have something to prune).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.channels import Address, Channel, Sender
from domain.clock import ManualClock
from services.kernel.context import ServiceContext

NOW = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # Tue 10 Nov 2026, 09:00 Beijing
DAYS = 3 * 365
ADMIN = Sender(Channel.TELEGRAM, "900", "站长")
STAFF_CHAT = "-1001"
REPS = 12
UNITS = 6
RESIDENT_BASE = 10_000_000
CHUNK = 20_000
TEXTS = (
    "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "社区卫生站没有全科医生，老人量血压都要跑到镇上，希望派医生。",
    "高龄津贴已经三个月没到账了，问了街道也说不清楚，请帮忙查一下。",
    "老旧小区加装电梯审批太慢，跑了半年手续还没办下来。",
)


@dataclass(frozen=True)
class Setup:
    station_id: int
    rep_ids: list[int]
    unit_ids: list[int]


@dataclass(frozen=True)
class Built:
    opinions: int
    residents: int
    tasks: int
    open_tasks: int
    overdue_tasks: int
    outbox: int
    seconds: float


def resident(n: int) -> Sender:
    return Sender(Channel.TELEGRAM, str(RESIDENT_BASE + n), f"居民{n}")


async def make_setup(ctx: ServiceContext, clock: ManualClock) -> Setup:
    """Station, staff chat, representatives and units (groups with chats), via the services."""
    from sqlalchemy import select

    from services.casework import CaseworkService
    from storage.models import Identity, Station, Unit

    clock.set(NOW - timedelta(days=DAYS + 30))
    cw = CaseworkService(ctx)
    await cw.bind_staff_chat(ADMIN, Address(Channel.TELEGRAM, STAFF_CHAT), None)
    for i in range(REPS):
        invite = await cw.create_invite(ADMIN, None, None)
        code = next(s.text for s in invite.text.spans if s.style.value == "code")
        await cw.join(Sender(Channel.TELEGRAM, str(500 + i), f"代表{i + 1}"), code)
    for i in range(UNITS):
        await cw.add_unit(ADMIN, "group", f"专题组{i + 1}")
        await cw.bind_unit_chat(ADMIN, Address(Channel.TELEGRAM, str(-3000 - i)), f"专题组{i + 1}")
    async with ctx.sessions() as s:
        station = (await s.execute(select(Station))).scalar_one()
        found = await s.execute(select(Identity.external_id, Identity.user_id))
        ids = {e: u for e, u in found.all()}
        units = list((await s.execute(select(Unit.id).order_by(Unit.id))).scalars())
    clock.set(NOW)
    return Setup(station.id, [ids[str(500 + i)] for i in range(REPS)], units)


class Generator:
    """Rows for opinions [lo, hi) with ids from fixed bases: deterministic for a seed."""

    def __init__(self, n: int, setup: Setup, first_user: int, first_identity: int) -> None:
        self.n, self.setup = n, setup
        self.residents = max(n // 5, 10)
        self.first_user, self.first_identity = first_user, first_identity
        self.open = round(n * 0.0113)
        self.overdue = round(n * 0.0064)
        self.task_every = 3  # every third opinion was assigned: 33 %
        self.tasks = 0
        self.outbox = 0

    def people(self, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
        users, identities = [], []
        for i in range(lo, hi):
            uid, iid = self.first_user + i, self.first_identity + i
            at = NOW - timedelta(days=DAYS)
            users.append(
                {
                    "id": uid,
                    "first_name": f"居民{i}",
                    "station_id": self.setup.station_id,
                    "subscribed": False,
                    "reach_identity_id": iid,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            identities.append(
                {
                    "id": iid,
                    "user_id": uid,
                    "channel": "telegram",
                    "external_id": str(RESIDENT_BASE + i),
                    "first_name": f"居民{i}",
                    "blocked": False,
                    "link_failures": 0,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        return {"users": users, "identities": identities}

    def opinions(self, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
        rng = random.Random(lo)
        out: dict[str, list[dict[str, Any]]] = {
            "opinions": [],
            "tasks": [],
            "ratings": [],
            "outbox": [],
        }
        last_task = (self.n - 1) // self.task_every  # the newest tasks are the open ones
        for i in range(lo, hi):
            oid = i + 1
            created = NOW - timedelta(days=DAYS * (self.n - i) / self.n)
            res = self.first_user + rng.randrange(self.residents)
            k = i // self.task_every if i % self.task_every == 0 else None
            status, task = "received", None
            if k is not None:
                task = self._task(oid, k, last_task, created, rng)
                status = {"open": "assigned", "closed": "rated"}[task["status"]]
                if task["status"] == "closed" and NOW - task["closed_at"] < timedelta(days=7):
                    status = "closed"
            elif NOW - created > timedelta(days=30):
                status = "rejected"
            out["opinions"].append(self._opinion(oid, i, res, created, status, task))
            if task is not None:
                out["tasks"].append(task)
                if status == "rated":
                    out["ratings"].append(
                        {
                            "opinion_id": oid,
                            "task_id": task["id"],
                            "user_id": res,
                            "value": rng.choice(("satisfied", "basic", "unsatisfied")),
                            "at": task["closed_at"] + timedelta(days=1),
                        }
                    )
            if NOW - created < timedelta(days=120):
                out["outbox"] += self._outbox(oid, res, created)
        return out

    def _task(
        self, oid: int, k: int, last: int, created: datetime, rng: random.Random
    ) -> dict[str, Any]:
        from storage.models import REPLAN_AT

        self.tasks += 1
        left = last - k  # 0 for the newest task
        is_open = left < self.open
        assigned = created + timedelta(hours=rng.randrange(1, 48))
        if is_open:
            overdue = left >= self.open - self.overdue
            due = (
                NOW.date() - timedelta(days=1 + left % 20)
                if overdue
                else (NOW.date() + timedelta(days=1 + left % 25))
            )
            assigned = min(assigned, NOW - timedelta(hours=1))
        else:
            due = (assigned + timedelta(days=21)).date()
        unit = k % 4 == 0
        task: dict[str, Any] = {
            "id": k + 1,
            "opinion_id": oid,
            "station_id": self.setup.station_id,
            "assignee_user_id": None if unit else self.setup.rep_ids[k % REPS],
            "assignee_unit_id": self.setup.unit_ids[k % UNITS] if unit else None,
            "assigned_at": assigned,
            "working_days": 15,
            "due_date": due,
            "deadline_uncertain": False,
            "status": "open" if is_open else "closed",
            "closed_at": None if is_open else assigned + timedelta(days=rng.randrange(2, 20)),
            "outcome": None if is_open else "A",
            "next_remind_at": REPLAN_AT if is_open else None,
        }
        if task["closed_at"] is not None and task["closed_at"] > NOW:
            task["closed_at"] = NOW - timedelta(hours=2)
        return task

    def _opinion(
        self, oid: int, i: int, res: int, created: datetime, status: str, task: Any
    ) -> dict[str, Any]:
        year = created.year
        return {
            "id": oid,
            "station_id": self.setup.station_id,
            "ref_no": f"LL-{year}-{oid:07d}",
            "year": year,
            "seq": oid,
            "resident_id": res,
            "submitted_by_id": res,
            "source": "resident",
            "text": TEXTS[i % len(TEXTS)],
            "theme": "elderly_care",
            "theme_confidence": 0.9,
            "theme_terms": [],
            "needs_review": False,
            "theme_confirmed": False,
            "anonymous": True,
            "status": status,
            "src_channel": "telegram",
            "src_chat_id": str(res),
            "src_message_id": str(oid),
            "reopen_count": 0,
            "assigned_at": task["assigned_at"] if task else None,
            "closed_at": task["closed_at"] if task else None,
            "created_at": created,
            "updated_at": created,
        }

    def _outbox(self, oid: int, res: int, created: datetime) -> list[dict[str, Any]]:
        rows = []
        for kind, chat in (("staff", STAFF_CHAT), ("resident", str(RESIDENT_BASE + res))):
            self.outbox += 1
            rows.append(
                {
                    "key": f"{kind}:bench:{oid}",
                    "station_id": self.setup.station_id,
                    "kind": kind,
                    "channel": "telegram",
                    "chat_id": chat,
                    "message": {"t": ["已收到 LL-", oid]},
                    "due_at": created,
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": created,
                    "sent_message_id": str(oid),
                    "opinion_id": oid,
                    "created_at": created,
                }
            )
        return rows


async def write(s: Any, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Insert one chunk: COPY on PostgreSQL, executemany through the column types on SQLite."""
    from sqlalchemy import JSON, insert

    from storage.models import Base

    conn = await s.connection()
    pg = conn.dialect.name == "postgresql"
    raw = (await conn.get_raw_connection()).driver_connection if pg else None
    for name, rows in tables.items():
        if not rows:
            continue
        table = Base.metadata.tables[name]
        if raw is None:
            await conn.execute(insert(table), rows)
            continue
        cols = list(rows[0])
        json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
        records = [
            tuple(json.dumps(r[c], ensure_ascii=False) if c in json_cols else r[c] for c in cols)
            for r in rows
        ]
        await raw.copy_records_to_table(name, records=records, columns=cols)


def chunks(total: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for lo in range(0, total, size):
        yield lo, min(lo + size, total)


async def build(ctx: ServiceContext, clock: ManualClock, n: int) -> Built:
    import time

    from sqlalchemy import func, select, text

    from storage.models import Identity, User

    started = time.perf_counter()
    setup = await make_setup(ctx, clock)
    async with ctx.sessions() as s:
        first_user = int((await s.execute(select(func.max(User.id)))).scalar_one()) + 1
        first_identity = int((await s.execute(select(func.max(Identity.id)))).scalar_one()) + 1
    gen = Generator(n, setup, first_user, first_identity)
    for lo, hi in chunks(gen.residents):
        async with ctx.sessions.begin() as s:
            await write(s, gen.people(lo, hi))
    for lo, hi in chunks(n, CHUNK // 2):
        async with ctx.sessions.begin() as s:
            await write(s, gen.opinions(lo, hi))
    async with ctx.sessions.begin() as s:
        if (await s.connection()).dialect.name == "postgresql":
            for name in ("users", "identities", "opinions", "tasks", "ratings", "outbox"):
                await s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                        f" (SELECT max(id) FROM {name}))"
                    )
                )
    return Built(
        n,
        gen.residents,
        gen.tasks,
        gen.open,
        gen.overdue,
        gen.outbox,
        time.perf_counter() - started,
    )


def workday_after(day: date, n: int) -> datetime:
    """09:00:30 Beijing on the n-th working day after `day` (a tick just after reminder time)."""
    from domain.workdays import WorkCalendar

    due = WorkCalendar().add_workdays(day, n).due
    return datetime(due.year, due.month, due.day, 1, 0, 30, tzinfo=UTC)
