"""A city's worth of data for bench/scale.py: one large station, built in bulk.

The station, its staff, representatives and units are made through the real services; then
residents, opinions, tasks, events, ratings and outbox rows are generated (seeded, so every run
builds the same data) with the values the services write, and inserted in chunks: executemany
on SQLite, COPY on PostgreSQL. The clock is fixed (Mon 28 Sept 2026, 09:00 Beijing) and the data
spans the three years before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.channels import Channel, Sender
from domain.clock import ManualClock
from services.kernel.context import ServiceContext

NOW = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)
YEARS = 3
ADMIN = Sender(Channel.TELEGRAM, "900", "站长")
STAFF = Sender(Channel.TELEGRAM, "901", "小张")
STAFF_CHAT = "-1001"
REPS = 12
UNITS = (("group", "居家养老专题组"), ("group", "医养结合专题组"), ("group", "助餐服务专题组"))
DEPARTMENTS = ("区民政局", "区卫健委", "区住建委", "街道办事处", "区医保局", "区残联")
RESIDENT_BASE = 10_000_000  # residents' Telegram ids start here
SNIPPETS = (
    "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "社区卫生站没有全科医生，老人量血压都要跑到镇上，希望派医生。",
    "高龄津贴已经三个月没到账了，问了街道也说不清楚，请帮忙查一下。",
    "养老院的护理员工资太低，干不了几个月就走，老人没人照顾。",
    "老旧小区加装电梯审批太慢，跑了半年手续还没办下来。",
    "家庭医生签约以后很少上门，慢病药品也不全，希望改进。",
    "助餐点的饭菜价格太高了，希望能给高龄老人优惠，也能送餐上门。",
    "小区门口的路灯坏了好几个月，晚上很黑，老人出门不安全。",
)
RATINGS = (("satisfied", 62), ("basic", 20), ("unsatisfied", 6), ("unrated", 12))
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Shape:
    """How much to build: everything scales with the number of opinions."""

    opinions: int
    seed: int = 12

    @property
    def residents(self) -> int:
        return max(self.opinions // 5, 10)

    @property
    def start(self) -> datetime:
        return NOW - timedelta(days=365 * YEARS)


@dataclass
class Setup:
    """What the real services made: ids the generated rows refer to."""

    station_id: int
    staff_id: int
    rep_ids: list[int]
    unit_ids: list[int]
    themes: list[str]
    ref_prefix: str


@dataclass
class Rows:
    """One chunk of generated rows, per table, as column dicts."""

    users: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    opinions: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    opinion_events: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for name in ("users", "identities", "opinions", "tasks", "opinion_events", "ratings"):
            yield name, getattr(self, name)
        yield "outbox", self.outbox

    def size(self) -> int:
        return sum(len(rows) for _, rows in self.tables())


async def make_setup(ctx: ServiceContext, clock: ManualClock) -> Setup:
    """Station, staff chat, staff, representatives and units, through the real services."""
    from sqlalchemy import select

    from domain.channels import Address
    from services.casework import CaseworkService
    from services.intake import IntakeService
    from storage.models import Identity, Station, Unit

    clock.set(NOW - timedelta(days=365 * YEARS + 30))
    cw, intake = CaseworkService(ctx), IntakeService(ctx)
    await cw.bind_staff_chat(ADMIN, Address(Channel.TELEGRAM, STAFF_CHAT), None)
    await intake.start(STAFF, None)
    await cw.add_staff(ADMIN, STAFF.external_id, None)
    for i in range(REPS):
        invite = await cw.create_invite(STAFF, None, None)
        code = next(s.text for s in invite.text.spans if s.style.value == "code")
        await cw.join(Sender(Channel.TELEGRAM, str(500 + i), f"代表{i + 1}"), code)
    for kind, name in UNITS:
        await cw.add_unit(STAFF, kind, name)
    for name in DEPARTMENTS:
        await cw.add_unit(STAFF, "department", name)
    async with ctx.sessions() as s:
        station = (await s.execute(select(Station))).scalar_one()
        ids = {e: u for e, u in await s.execute(select(Identity.external_id, Identity.user_id))}
        units = list((await s.execute(select(Unit.id).order_by(Unit.id))).scalars())
    clock.set(NOW)
    return Setup(
        station_id=station.id,
        staff_id=ids[STAFF.external_id],
        rep_ids=[ids[str(500 + i)] for i in range(REPS)],
        unit_ids=units,
        themes=[t.id for t in ctx.classifier.themes],
        ref_prefix=station.ref_prefix,
    )


def resident_sender(n: int) -> Sender:
    """The n-th generated resident as a channel sender."""
    return Sender(Channel.TELEGRAM, str(RESIDENT_BASE + n), f"居民{n}")


@dataclass
class Counters:
    """The next id of each table and the counts the harness reports."""

    next_id: dict[str, int]
    seq: dict[int, int] = field(default_factory=dict)  # local year -> last ref sequence
    open_tasks: int = 0
    overdue_tasks: int = 0

    def take(self, table: str) -> int:
        n = self.next_id[table]
        self.next_id[table] = n + 1
        return n


# ---- writing --------------------------------------------------------------------------------

CHUNK = 20_000


async def write(s: Any, rows: Rows) -> None:
    """Insert one chunk: COPY on PostgreSQL, executemany (through the column types) on SQLite."""
    import json

    from sqlalchemy import JSON, Table, insert

    from storage.models import Base

    conn = await s.connection()
    pg = conn.dialect.name == "postgresql"
    raw = (await conn.get_raw_connection()).driver_connection if pg else None
    for name, data in rows.tables():
        if not data:
            continue
        table: Table = Base.metadata.tables[name]
        if raw is None:
            await conn.execute(insert(table), data)
            continue
        # Columns the generator leaves out (added by later migrations) get their scalar default,
        # as executemany gives them; the rest are left to the database (NULL).
        given = [c for c in table.columns if c.name in data[0]]
        fixed = {
            c.name: getattr(c.default, "arg", None)
            for c in table.columns
            if c.name not in data[0] and c.default is not None and c.default.is_scalar
        }
        cols = [c.name for c in given] + list(fixed)
        is_json = [isinstance(c.type, JSON) for c in given]
        tail = tuple(fixed.values())
        records = [
            tuple(
                json.dumps(r[c.name], ensure_ascii=False)
                if j and r[c.name] is not None
                else r[c.name]
                for c, j in zip(given, is_json, strict=True)
            )
            + tail
            for r in data
        ]
        await raw.copy_records_to_table(name, records=records, columns=cols)


async def table_counts(s: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.models import Base

    out = {}
    for name in ("users", "identities", "opinions", "tasks", "opinion_events", "ratings", "outbox"):
        table = Base.metadata.tables[name]
        out[name] = int((await s.execute(select(func.count()).select_from(table))).scalar_one())
    return out


async def next_ids(s: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.models import Base

    out = {}
    for name in ("users", "identities", "opinions", "tasks", "opinion_events", "ratings", "outbox"):
        table = Base.metadata.tables[name]
        out[name] = int((await s.execute(select(func.max(table.c.id)))).scalar() or 0) + 1
    return out


async def finish_tables(s: Any, counters: Counters, station_id: int) -> None:
    """Reference counters as intake would have left them; sequences past the ids we chose."""
    from sqlalchemy import delete, insert, text

    from storage.models import RefCounter

    await s.execute(delete(RefCounter).where(RefCounter.station_id == station_id))
    await s.execute(
        insert(RefCounter),
        [{"station_id": station_id, "year": y, "last_seq": n} for y, n in counters.seq.items()],
    )
    if (await s.connection()).dialect.name == "postgresql":
        for name in counters.next_id:
            await s.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )
            )


@dataclass(frozen=True)
class Built:
    setup: Setup
    first_resident: int  # users.id of resident_sender(0)
    counts: dict[str, int]
    open_tasks: int
    overdue_tasks: int
    seconds: float


async def build(
    ctx: ServiceContext, clock: ManualClock, shape: Shape, progress: Progress | None = None
) -> Built:
    """The whole database on a freshly migrated schema (`ctx` points at it)."""
    import time

    started = time.perf_counter()
    setup = await make_setup(ctx, clock)
    async with ctx.sessions() as s:
        counters = Counters(await next_ids(s))
    from bench.scale_life import Generator

    gen = Generator(shape, setup, counters, ctx.tz)
    for lo in range(0, shape.residents, CHUNK):
        async with ctx.sessions.begin() as s:
            await write(s, gen.residents(lo, min(lo + CHUNK, shape.residents)))
        if progress:
            progress("residents", min(lo + CHUNK, shape.residents), shape.residents)
    for lo in range(0, shape.opinions, CHUNK // 4):
        async with ctx.sessions.begin() as s:
            await write(s, gen.opinions(lo, min(lo + CHUNK // 4, shape.opinions)))
        if progress:
            progress("opinions", min(lo + CHUNK // 4, shape.opinions), shape.opinions)
    async with ctx.sessions.begin() as s:
        await finish_tables(s, counters, setup.station_id)
    async with ctx.sessions() as s:
        counts = await table_counts(s)
    return Built(
        setup,
        gen.first_resident,
        counts,
        counters.open_tasks,
        counters.overdue_tasks,
        time.perf_counter() - started,
    )


async def existing(ctx: ServiceContext) -> Built:
    """What a database built earlier (`--build-only`) holds, for timing it again."""
    from sqlalchemy import func, select

    from storage.models import Identity, Station, StationRole, Task, Unit

    async with ctx.sessions() as s:
        station = (await s.execute(select(Station).order_by(Station.id).limit(1))).scalar_one()
        ids = {
            e: u
            for e, u in await s.execute(
                select(Identity.external_id, Identity.user_id).where(
                    Identity.external_id.in_([STAFF.external_id, str(RESIDENT_BASE)])
                )
            )
        }
        reps = await s.execute(
            select(StationRole.user_id).where(StationRole.role == "representative")
        )
        units = await s.execute(select(Unit.id).order_by(Unit.id))
        open_tasks = await s.scalar(select(func.count()).where(Task.status == "open"))
        overdue = await s.scalar(
            select(func.count()).where(Task.status == "open", Task.due_date < NOW.date())
        )
        counts = await table_counts(s)
        setup = Setup(
            station_id=station.id,
            staff_id=ids[STAFF.external_id],
            rep_ids=list(reps.scalars()),
            unit_ids=list(units.scalars()),
            themes=[t.id for t in ctx.classifier.themes],
            ref_prefix=station.ref_prefix,
        )
    return Built(setup, ids[str(RESIDENT_BASE)], counts, open_tasks or 0, overdue or 0, 0.0)
