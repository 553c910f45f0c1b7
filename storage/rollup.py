"""report_days: /stats figures per station-local day, recomputed for the days triggers mark.

Migration 0011's triggers add a row to `report_dirty` (the UTC hour of every timestamp that an
opinion's figures depend on) in the transaction of each change to opinions, tasks, ratings and
co-signers, whichever code made it. `refresh` recomputes the local days those hours fall in
from the live tables, with the same definitions as services/reports/aggregates.py and rates.py,
grouped by day. Metrics (`n`, `m`, `total` per row; `k1`, `k2` and the assignee as keys):

- recv:  opinions received that day, by theme (k1) and status (k2); n = count.
- first: opinions whose first task was assigned that day; n, total = days from receipt.
- close: tasks closed that day (status closed); n, total = days from receipt to the closure.
- pair:  a closure that day whose opinion was closed before (k1 = that earlier closure's day);
         n, total = the earlier closure's days. A period's distinct closed opinions are its
         closures minus the pairs with both days inside it (each earlier closure is then
         superseded by a later one in the period, as the reference query counts it).
- asg:   tasks assigned that day per assignee; n = count, m = with a response limit, total =
         of those, signed in time (响应率).
- end:   tasks closed or bounced that day per assignee, k1 = status; n = count.
- solve: the opinion's last closure, closed that day, per assignee, k1 = outcome; n = count.
- rate:  final ratings given that day (storage.queries.ratings.is_final), k1 = value, per the
         rated task's assignee (k2 = "t" when there is a task); n = count.

Sync functions over a Connection or Session: the services call them through `run_sync`, the
migration with its own connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import aliased

from storage.models import (
    Opinion,
    Rating,
    ReportDay,
    ReportDirty,
    Setting,
    Task,
)
from storage.queries.ratings import is_final

log = logging.getLogger(__name__)

TZ_KEY = "report_days_tz"  # bot_settings: the zone report_days' days are local to
BATCH = 20_000  # dirty rows read at once
RUN_DAYS = 31  # days recomputed by one set of statements (runs never span more than two months)
DAY, MONTH = "d", "m"  # report_days.span
REFRESH_LOCK = 0x7265_706F_7274_7300 >> 2  # "reports", a PostgreSQL advisory lock key
CLOSED, BOUNCED = "closed", "bounced"
Row = dict[str, Any]


def local_day(hour: datetime, tz: ZoneInfo) -> set[date]:
    """The local days an hour (UTC) overlaps: one, or two for a zone off by half hours."""
    start = hour.replace(tzinfo=UTC) if hour.tzinfo is None else hour
    end = start + timedelta(minutes=59, seconds=59)
    return {start.astimezone(tz).date(), end.astimezone(tz).date()}


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def runs(days: Iterable[date], longest: int = RUN_DAYS) -> Iterator[tuple[date, date]]:
    """Sorted days as [first, last] runs of consecutive days, at most `longest` each."""
    first = last = None
    for d in sorted(set(days)):
        joins = first is not None and last is not None and d == last + timedelta(days=1)
        if joins and first is not None and (d - first).days < longest:
            last = d
            continue
        if first is not None and last is not None:
            yield first, last
        first = last = d
    if first is not None and last is not None:
        yield first, last


# ---- the day of a timestamp, and days between two, as each engine writes it -------------------


def _pg(conn: Any) -> bool:
    dialect = conn.dialect if hasattr(conn, "dialect") else conn.get_bind().dialect
    return bool(dialect.name == "postgresql")


def _day(conn: Any, column: Any, tz: ZoneInfo, offset: int) -> Any:
    """The local date of `column`: PostgreSQL converts by the zone; SQLite adds the run's
    UTC offset (minutes; a zone's offset is the same through a run, see _offset_runs)."""
    if _pg(conn):
        return cast(func.timezone(tz.key, column), ReportDay.day.type)
    return func.date(column, f"{offset:+d} minutes")


def _days(conn: Any, later: Any, earlier: Any) -> Any:
    if _pg(conn):
        return cast(extract("epoch", later - earlier), Float) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def _offset(day: date, tz: ZoneInfo) -> int:
    off = datetime.combine(day, time(12), tzinfo=tz).utcoffset() or timedelta(0)
    return int(off.total_seconds() // 60)


def _offset_runs(first: date, last: date, tz: ZoneInfo) -> Iterator[tuple[date, date, int]]:
    """[first, last] split where the zone's offset changes (a DST day goes with its noon)."""
    start, cur = first, _offset(first, tz)
    d = first
    while d < last:
        d += timedelta(days=1)
        off = _offset(d, tz)
        if off != cur:
            yield start, d - timedelta(days=1), cur
            start, cur = d, off
    yield start, last, cur


# ---- one run of days, recomputed --------------------------------------------------------------


def _in(column: Any, lo: datetime, hi: datetime) -> Any:
    return and_(column >= lo, column < hi)


def _rows(conn: Any, station_id: int, lo: datetime, hi: datetime, day: Any) -> Iterator[Row]:
    """Every metric of [lo, hi) for one station, a row per day and key."""
    here = Task.station_id == station_id
    d_recv = day(Opinion.created_at)
    for dd, theme, status, n in conn.execute(
        select(d_recv, Opinion.theme, Opinion.status, func.count())
        .where(Opinion.station_id == station_id, _in(Opinion.created_at, lo, hi))
        .group_by(d_recv, Opinion.theme, Opinion.status)
    ):
        yield {"day": dd, "metric": "recv", "k1": theme, "k2": status, "n": n}

    earlier = aliased(Task)
    first = ~(
        select(earlier.id)
        .where(earlier.opinion_id == Task.opinion_id, earlier.id < Task.id)
        .exists()
    )
    d_asg = day(Task.assigned_at)
    for dd, n, total in conn.execute(
        select(d_asg, func.count(), func.sum(_days(conn, Task.assigned_at, Opinion.created_at)))
        .join(Opinion, Opinion.id == Task.opinion_id)
        .where(here, _in(Task.assigned_at, lo, hi), first)
        .group_by(d_asg)
    ):
        yield {"day": dd, "metric": "first", "n": n, "total": total}

    d_close = day(Task.closed_at)
    for dd, n, total in conn.execute(
        select(d_close, func.count(), func.sum(_days(conn, Task.closed_at, Opinion.created_at)))
        .join(Opinion, Opinion.id == Task.opinion_id)
        .where(here, Task.status == CLOSED, _in(Task.closed_at, lo, hi))
        .group_by(d_close)
    ):
        yield {"day": dd, "metric": "close", "n": n, "total": total}

    yield from _pairs(conn, here, lo, hi, day)
    yield from _assignees(conn, here, lo, hi, day)
    yield from _ratings(conn, station_id, lo, hi, day)


def _pairs(conn: Any, here: Any, lo: datetime, hi: datetime, day: Any) -> Iterator[Row]:
    prev = aliased(Task)
    x = aliased(Task)
    before = (
        select(func.max(x.id))
        .where(x.opinion_id == Task.opinion_id, x.status == CLOSED, x.id < Task.id)
        .scalar_subquery()
    )
    d_next, d_prev = day(Task.closed_at), day(prev.closed_at)
    for dd, dp, n, total in conn.execute(
        select(
            d_next, d_prev, func.count(), func.sum(_days(conn, prev.closed_at, Opinion.created_at))
        )
        .select_from(Task)
        .join(prev, prev.id == before)
        .join(Opinion, Opinion.id == Task.opinion_id)
        .where(here, Task.status == CLOSED, _in(Task.closed_at, lo, hi))
        .group_by(d_next, d_prev)
    ):
        yield {"day": dd, "metric": "pair", "k1": str(dp), "n": n, "total": total}


def _assignees(conn: Any, here: Any, lo: datetime, hi: datetime, day: Any) -> Iterator[Row]:
    who = (Task.assignee_unit_id, Task.assignee_user_id)
    timely = or_(
        Task.acknowledged_at <= Task.respond_by,
        and_(Task.status == BOUNCED, Task.closed_at <= Task.respond_by),
    )
    limited = Task.respond_by.is_not(None)
    d_asg = day(Task.assigned_at)
    for dd, unit, user, n, m, total in conn.execute(
        select(
            d_asg,
            *who,
            func.count(),
            func.sum(case((limited, 1), else_=0)),
            func.sum(case((and_(limited, timely), 1), else_=0)),
        )
        .where(here, _in(Task.assigned_at, lo, hi))
        .group_by(d_asg, *who)
    ):
        yield {"day": dd, "metric": "asg", "unit_id": unit, "user_id": user, "n": n, "m": m,
               "total": total}  # fmt: skip

    d_end = day(Task.closed_at)
    for dd, unit, user, status, n in conn.execute(
        select(d_end, *who, Task.status, func.count())
        .where(here, Task.status.in_((CLOSED, BOUNCED)), _in(Task.closed_at, lo, hi))
        .group_by(d_end, *who, Task.status)
    ):
        yield {"day": dd, "metric": "end", "unit_id": unit, "user_id": user, "k1": status, "n": n}

    later = aliased(Task)
    last = (
        ~select(later.id)
        .where(later.opinion_id == Task.opinion_id, later.status == CLOSED, later.id > Task.id)
        .exists()
    )
    outcome = func.coalesce(Task.outcome, "")
    for dd, unit, user, out, n in conn.execute(
        select(d_end, *who, outcome, func.count())
        .where(here, Task.status == CLOSED, _in(Task.closed_at, lo, hi), last)
        .group_by(d_end, *who, outcome)
    ):
        yield {"day": dd, "metric": "solve", "unit_id": unit, "user_id": user, "k1": out, "n": n}


def _ratings(conn: Any, station_id: int, lo: datetime, hi: datetime, day: Any) -> Iterator[Row]:
    # The station as a lookup per rating, so the period's range of ix_ratings_at drives (a
    # join let SQLite start from every opinion of the station instead).
    ours = (
        select(Opinion.id)
        .where(Opinion.id == Rating.opinion_id, Opinion.station_id == station_id)
        .exists()
    )
    d_rate = day(Rating.at)
    has_task = case((Task.id.is_(None), ""), else_="t")
    for dd, value, unit, user, flag, n in conn.execute(
        select(
            d_rate,
            Rating.value,
            Task.assignee_unit_id,
            Task.assignee_user_id,
            has_task,
            func.count(),
        )
        .select_from(Rating)
        .outerjoin(Task, and_(Task.id == Rating.task_id, Task.station_id == station_id))
        .where(_in(Rating.at, lo, hi), ours)
        .where(is_final())
        .group_by(d_rate, Rating.value, Task.assignee_unit_id, Task.assignee_user_id, has_task)
    ):
        yield {"day": dd, "metric": "rate", "k1": value, "k2": flag, "unit_id": unit,
               "user_id": user, "n": n}  # fmt: skip


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def recompute(conn: Any, station_id: int, first: date, last: date, tz: ZoneInfo) -> int:
    """Replace the station's rows for the local days [first, last]; the rows written."""
    written = 0
    for a, b, offset in _offset_runs(first, last, tz):
        lo, hi = midnight(a, tz), midnight(b + timedelta(days=1), tz)
        conn.execute(
            delete(ReportDay).where(
                ReportDay.station_id == station_id,
                ReportDay.span == DAY,
                ReportDay.day >= a,
                ReportDay.day <= b,
            )
        )
        rows = []
        for r in _rows(conn, station_id, lo, hi, lambda c, o=offset: _day(conn, c, tz, o)):
            rows.append(
                {
                    "station_id": station_id,
                    "span": DAY,
                    "unit_id": None,
                    "user_id": None,
                    "k1": "",
                    "k2": "",
                    "m": 0,
                    "total": 0.0,
                    **r,
                    "day": _as_date(r["day"]),
                }
            )
            rows[-1]["total"] = float(rows[-1]["total"] or 0.0)
            rows[-1]["m"] = int(rows[-1]["m"] or 0)
        if rows:
            conn.execute(insert(ReportDay), rows)
        written += len(rows)
    for month in sorted({month_of(first), month_of(last)}):
        _sum_month(conn, station_id, month)
    return written


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


KEYS = (ReportDay.metric, ReportDay.unit_id, ReportDay.user_id, ReportDay.k1, ReportDay.k2)


def _sum_month(conn: Any, station_id: int, month: date) -> None:
    """The month's row per key: the sums of its days' rows."""
    station = ReportDay.station_id == station_id
    conn.execute(delete(ReportDay).where(station, ReportDay.span == MONTH, ReportDay.day == month))
    days = (
        select(
            literal(station_id),
            literal(MONTH),
            literal(month, ReportDay.day.type),
            *KEYS,
            func.sum(ReportDay.n),
            func.sum(ReportDay.m),
            func.sum(ReportDay.total),
        )
        .where(station, ReportDay.span == DAY)
        .where(ReportDay.day >= month, ReportDay.day < next_month(month))
        .group_by(*KEYS)
    )
    columns = ["station_id", "span", "day", "metric", "unit_id", "user_id", "k1", "k2"]
    conn.execute(insert(ReportDay).from_select([*columns, "n", "m", "total"], days))


# ---- what the services call ---------------------------------------------------------------------


def stored_tz(conn: Any) -> str | None:
    value = conn.execute(select(Setting.value).where(Setting.key == TZ_KEY)).scalar()
    return None if value is None else str(value)


def refresh(conn: Any, tz: ZoneInfo) -> int:
    """Recompute the days the dirty hours fall in, then forget those hours; the days done.

    Run in the caller's transaction: the rows read are deleted by id, so a mark another
    transaction adds meanwhile stays for the next refresh."""
    _serialize(conn)
    if stored_tz(conn) != tz.key:
        return rebuild(conn, tz)
    done = 0
    while True:
        marks = conn.execute(
            select(ReportDirty.id, ReportDirty.station_id, ReportDirty.hour)
            .order_by(ReportDirty.id)
            .limit(BATCH)
        ).all()
        if not marks:
            return done
        days: dict[int, set[date]] = {}
        for _, station_id, hour in marks:
            days.setdefault(station_id, set()).update(local_day(_aware(hour), tz))
        for station_id, wanted in days.items():
            for first, last in runs(wanted):
                recompute(conn, station_id, first, last, tz)
                done += (last - first).days + 1
        ids = [i for i, _, _ in marks]
        for k in range(0, len(ids), 500):
            conn.execute(delete(ReportDirty).where(ReportDirty.id.in_(ids[k : k + 500])))
        if len(marks) < BATCH:
            return done


def _serialize(conn: Any) -> None:
    """One refresh at a time: two recomputing the same day would each insert its rows
    (PostgreSQL; SQLite's write transactions are serial already)."""
    if _pg(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": REFRESH_LOCK})


def _aware(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rebuild(conn: Any, tz: ZoneInfo) -> int:
    """Every day of every station from scratch (migration 0011, or a new time zone), in runs
    of RUN_DAYS; the days done."""
    _serialize(conn)
    conn.execute(delete(ReportDay))
    conn.execute(delete(ReportDirty))
    done = 0
    spans = conn.execute(
        select(Opinion.station_id, func.min(Opinion.created_at)).group_by(Opinion.station_id)
    ).all()
    now = datetime.now(UTC)
    for station_id, earliest in spans:
        first = _aware(earliest).astimezone(tz).date()
        last = now.astimezone(tz).date() + timedelta(days=1)
        last = max(last, _latest(conn, station_id).astimezone(tz).date())
        d = first
        while d <= last:
            end = min(d + timedelta(days=RUN_DAYS - 1), last)
            recompute(conn, station_id, d, end, tz)
            done += (end - d).days + 1
            d = end + timedelta(days=1)
        log.info("report_days: station %s rebuilt, %s days", station_id, done)
    conn.execute(delete(Setting).where(Setting.key == TZ_KEY))
    conn.execute(insert(Setting).values(key=TZ_KEY, value=tz.key))
    return done


def _latest(conn: Any, station_id: int) -> datetime:
    """The latest timestamp a figure of the station depends on (a clock set ahead, imports)."""
    found = [
        conn.execute(
            select(func.max(Opinion.created_at)).where(Opinion.station_id == station_id)
        ).scalar(),
        conn.execute(select(func.max(Task.closed_at)).where(Task.station_id == station_id)).scalar(),
        conn.execute(select(func.max(Task.assigned_at)).where(Task.station_id == station_id)).scalar(),
        conn.execute(select(func.max(Rating.at))).scalar(),
    ]  # fmt: skip
    return max((_aware(v) for v in found if v is not None), default=datetime.now(UTC))


def sums(conn: Any, station_id: int, first: date | None, end: date | None) -> list[Row]:
    """The station's rows summed over the local days [first, end) (None: open-ended), per
    metric and key: whole months from their month rows, the days around them from day rows
    (a range of the index each). `pair` rows keep their earlier day (k1) for the caller."""
    lo = first if first is None or first.day == 1 else next_month(month_of(first))
    hi = None if end is None else month_of(end)
    if lo is not None and hi is not None and hi <= lo:  # no whole month inside
        parts = [(DAY, first, end)]
    else:
        parts = [(MONTH, lo, hi)]
        parts += [(DAY, first, lo)] if first is not None and lo is not None and first < lo else []
        parts += [(DAY, hi, end)] if hi is not None and end is not None and hi < end else []
    out: dict[tuple[Any, ...], Row] = {}
    for span, a, b in parts:
        q = select(
            *KEYS, func.sum(ReportDay.n), func.sum(ReportDay.m), func.sum(ReportDay.total)
        ).where(ReportDay.station_id == station_id, ReportDay.span == span)
        q = q.where(*_range(ReportDay.day, a, b)).group_by(*KEYS)
        for mt, u, us, k1, k2, n, m, t in conn.execute(q):
            row = out.setdefault(
                (mt, u, us, k1, k2),
                {"metric": mt, "unit_id": u, "user_id": us, "k1": k1, "k2": k2, "n": 0, "m": 0,
                 "total": 0.0},
            )  # fmt: skip
            row["n"] += int(n or 0)
            row["m"] += int(m or 0)
            row["total"] += float(t or 0.0)
    return list(out.values())


def _range(column: Any, lo: date | None, hi: date | None) -> list[Any]:
    conds = []
    if lo is not None:
        conds.append(column >= lo)
    if hi is not None:
        conds.append(column < hi)
    return conds
