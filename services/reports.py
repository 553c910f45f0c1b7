"""Statistics and the 工作简报, computed from the live tables (read-only queries).

Period semantics, so that every number means one thing:
- "received", by theme and by status: opinions received in the period (their status as of now);
- "assigned" / "closed": distinct opinions first assigned / closed (a task closed) in the period;
- average days: receipt → first assignment for opinions first assigned in the period, and
  receipt → the closure in the period for opinions closed in it (calendar days);
- bounce-backs: tasks bounced (退回) in the period; satisfaction: ratings given in the period;
- overdue: a snapshot as of today (open tasks whose due date has passed), whatever the period.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.lifecycle import Status
from domain.recurrence import occurrences
from domain.workdays import WorkCalendar
from services import charts
from services.context import ServiceContext
from services.people import is_staff, role_of, station_by_staff_chat, station_of, upsert_user
from services.types import Reply, Sender
from storage.models import Meeting, Opinion, Rating, Station, Task, Unit, User
from texts.common import status_name

log = logging.getLogger(__name__)

PeriodKind = Literal["week", "month", "half_month", "range", "all"]
SATISFACTION_KEYS = ("satisfied", "basic", "unsatisfied", "unrated")
KEYWORDS_TOP = 10
GROWTH_TOP = 3
# Words that occur in almost every opinion and say nothing about this period's concerns. Chosen by
# reading extract_tags output over real-looking opinions: they crowd out 电梯, 停车, 助餐 ...
_STOP = """
    希望 问题 社区 小区 居民 老人 群众 反映 建议 能否 能不能 可以 一下 一个 没有 现在 目前
    非常 比较 真的 很多 很大 我们 他们 大家 自己 这个 那个 这里 那里 因为 所以 但是 而且
    已经 还是 就是 不是 什么 怎么 为什么 如何 有关 相关 部门 政府 领导 代表 同志 情况
    解决 处理 协调 落实 尽快 及时 加强 提高 增加 一些 有些 经常 总是 每天 每次 时候 附近
    影响 存在 出现 需要 要求 请求 呼吁 麻烦 谢谢 感谢 您好 你好 不便 不方便 方便 意见 服务
"""
STOP_WORDS = frozenset(_STOP.split())
# Parts of speech worth showing: nouns, names, verbal nouns, idioms, and "x", which is what jieba
# tags the domain dictionary's words with (助餐点, 加装电梯 carry no tag in userdict.txt).
KEYWORD_POS = ("n", "nr", "ns", "nt", "nz", "vn", "l", "x")


# ---- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[start, end) in station-local dates; both None means all time."""

    kind: PeriodKind
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValueError("a period has both bounds or neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("period end must be after its start")

    @classmethod
    def all_time(cls) -> Period:
        return cls("all")

    @classmethod
    def this_week(cls, today: date) -> Period:
        monday = today - timedelta(days=today.weekday())
        return cls("week", monday, monday + timedelta(days=7))

    @classmethod
    def this_month(cls, today: date) -> Period:
        first = today.replace(day=1)
        return cls("month", first, _next_month(first))

    @classmethod
    def half_month(cls, today: date) -> Period:
        """The half month containing `today`: the 1st–15th or the 16th–end of month."""
        if today.day < 16:
            first = today.replace(day=1)
            return cls("half_month", first, first.replace(day=16))
        return cls("half_month", today.replace(day=16), _next_month(today.replace(day=1)))

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        """[start, end): `end` is exclusive."""
        return cls("range", start, end)

    def previous(self) -> Period | None:
        """The period of the same kind just before this one (None for all time)."""
        if self.start is None or self.end is None:
            return None
        if self.kind == "month":
            return Period.this_month(self.start - timedelta(days=1))
        if self.kind == "half_month":
            return Period.half_month(self.start - timedelta(days=1))
        length = self.end - self.start
        return Period(self.kind, self.start - length, self.start)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period as aware UTC instants (local midnights)."""
        if self.start is None or self.end is None:
            return None, None
        return _local_midnight(self.start, tz), _local_midnight(self.end, tz)

    def label(self) -> str:
        return tr.period_label(self.kind, self.start, self.end)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"


def _parse_date(text: str) -> date | None:
    m = re.fullmatch(_DATE, text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_period(raw: str, today: date, default: Period | None = None) -> Period | None:
    """What staff type after /stats: 本周, 本月, 上周, 上月, 半月, 全部, 2026-09, or two dates.

    Two typed dates are inclusive (people write 9月1日 至 9月30日); the Period's end is the day after.
    Returns None when the text is not a period (the caller shows the usage).
    """
    text = raw.strip()
    if not text:
        return default if default is not None else Period.this_month(today)
    words = {
        "本周": Period.this_week(today),
        "这周": Period.this_week(today),
        "上周": Period.this_week(today - timedelta(days=7)),
        "本月": Period.this_month(today),
        "这个月": Period.this_month(today),
        "上月": Period.this_month(today.replace(day=1) - timedelta(days=1)),
        "上个月": Period.this_month(today.replace(day=1) - timedelta(days=1)),
        "半月": Period.half_month(today),
        "本半月": Period.half_month(today),
        "全部": Period.all_time(),
        "所有": Period.all_time(),
        "累计": Period.all_time(),
    }
    if text in words:
        return words[text]
    if m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?", text):
        year, month = int(m.group(1)), int(m.group(2))
        return Period.this_month(date(year, month, 1)) if 1 <= month <= 12 else None
    parts = [p for p in re.split(r"\s*(?:至|到|~|～|—|\s)\s*", text) if p]
    if len(parts) == 2:
        start, last = _parse_date(parts[0]), _parse_date(parts[1])
        if start is not None and last is not None and start <= last:
            return Period.between(start, last + timedelta(days=1))
    return None


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueTask:
    ref_no: str
    text: str
    assignee: str
    due_date: date
    workdays_overdue: int


@dataclass(frozen=True)
class AssigneeStats:
    kind: str  # group | department | representative
    name: str
    assigned: int = 0
    closed: int = 0
    bounced: int = 0
    overdue: int = 0


@dataclass(frozen=True)
class Satisfaction:
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> int:
        return self.counts.get(key, 0)

    @property
    def rated(self) -> int:
        """Ratings with an answer (未评价 is not an answer and stays out of the rate)."""
        return self.count("satisfied") + self.count("basic") + self.count("unsatisfied")

    @property
    def rate(self) -> float | None:
        """(满意 + 基本满意) ÷ 已评价; None when nobody rated."""
        if not self.rated:
            return None
        return (self.count("satisfied") + self.count("basic")) / self.rated


@dataclass(frozen=True)
class Stats:
    station_id: int
    station_name: str
    period: Period
    today: date
    received: int
    by_theme: list[tuple[str, str, int]]  # (theme id, label, count), largest first
    by_status: list[tuple[str, int]]  # (status, count), lifecycle order
    assigned: int
    closed: int
    bounced: int
    avg_days_to_assign: float | None
    avg_days_to_close: float | None
    by_assignee: list[AssigneeStats]
    overdue: list[OverdueTask]
    satisfaction: Satisfaction

    def theme_counts(self) -> dict[str, int]:
        return {theme: n for theme, _, n in self.by_theme}


@dataclass(frozen=True)
class Briefing:
    """A 工作简报: HTML text for the chat and the chart (None when it could not be drawn)."""

    text: str
    chart: bytes | None
    stats: Stats
    keywords: list[str]
    growth: list[tuple[str, int, int]]


@dataclass(frozen=True)
class Report:
    """What /stats and /briefing answer: the text, and the chart when there is one."""

    reply: Reply
    chart: bytes | None = None


# ---- queries -----------------------------------------------------------------------------------


def _in(column: object, lo: datetime | None, hi: datetime | None) -> list[object]:
    conds: list[object] = []
    if lo is not None:
        conds.append(column >= lo)  # type: ignore[operator]
    if hi is not None:
        conds.append(column < hi)  # type: ignore[operator]
    return conds


def _within(when: datetime | None, lo: datetime | None, hi: datetime | None) -> bool:
    if when is None:
        return False
    return (lo is None or when >= lo) and (hi is None or when < hi)


def _mean_days(spans: Iterable[timedelta]) -> float | None:
    values = [span.total_seconds() / 86400 for span in spans]
    return round(sum(values) / len(values), 1) if values else None


def local_today(ctx: ServiceContext) -> date:
    return ctx.clock.now().astimezone(ctx.tz).date()


async def theme_counts(
    s: AsyncSession, station_id: int, period: Period, tz: ZoneInfo
) -> dict[str, int]:
    """Opinions received in `period`, by theme id."""
    lo, hi = period.bounds(tz)
    rows = await s.execute(
        select(Opinion.theme, func.count(Opinion.id))
        .where(Opinion.station_id == station_id, *_in(Opinion.created_at, lo, hi))  # type: ignore[arg-type]
        .group_by(Opinion.theme)
    )
    return {theme: int(n) for theme, n in rows.all()}


async def collect_stats(
    s: AsyncSession,
    ctx: ServiceContext,
    station: Station,
    period: Period,
    calendar: WorkCalendar,
) -> Stats:
    """Every number of a /stats answer, in one session."""
    lo, hi = period.bounds(ctx.tz)
    today = local_today(ctx)
    in_period = _in(Opinion.created_at, lo, hi)

    grouped = (
        await s.execute(
            select(Opinion.theme, Opinion.status, func.count(Opinion.id))
            .where(Opinion.station_id == station.id, *in_period)  # type: ignore[arg-type]
            .group_by(Opinion.theme, Opinion.status)
        )
    ).all()
    themes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for theme, status, n in grouped:
        themes[theme] += int(n)
        statuses[status] += int(n)
    order = {t.id: i for i, t in enumerate(ctx.classifier.themes)}
    by_theme = sorted(
        ((theme, ctx.theme_label(theme), n) for theme, n in themes.items()),
        key=lambda r: (-r[2], order.get(r[0], len(order)), r[0]),
    )
    by_status = [(st.value, statuses[st.value]) for st in Status if statuses[st.value]]
    by_status += [(k, n) for k, n in statuses.items() if k not in set(Status)]

    tasks = (
        await s.execute(
            select(Task, Opinion.created_at, Opinion.ref_no, Opinion.text)
            .join(Opinion, Opinion.id == Task.opinion_id)
            .where(Task.station_id == station.id)
            .order_by(Task.id)
        )
    ).all()
    units = {
        u.id: u
        for u in (await s.execute(select(Unit).where(Unit.station_id == station.id))).scalars()
    }
    rep_ids = {t.assignee_user_id for t, *_ in tasks if t.assignee_user_id is not None}
    reps = (
        {u.id: u for u in (await s.execute(select(User).where(User.id.in_(rep_ids)))).scalars()}
        if rep_ids
        else {}
    )

    def assignee_of(task: Task) -> tuple[str, str]:
        if task.assignee_unit_id is not None and task.assignee_unit_id in units:
            unit = units[task.assignee_unit_id]
            return unit.kind, unit.name
        if task.assignee_user_id is not None and task.assignee_user_id in reps:
            return "representative", reps[task.assignee_user_id].display_name
        return "representative", "—"

    first_assigned: dict[int, tuple[datetime, datetime]] = {}
    closed_in_period: dict[int, tuple[datetime, datetime]] = {}
    per_assignee: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    overdue: list[OverdueTask] = []
    bounced = 0
    for task, received_at, ref_no, text in tasks:
        if task.opinion_id not in first_assigned:
            first_assigned[task.opinion_id] = (task.assigned_at, received_at)
        who = assignee_of(task)
        if _within(task.assigned_at, lo, hi):
            per_assignee[who]["assigned"] += 1
        if task.status == "closed" and _within(task.closed_at, lo, hi):
            assert task.closed_at is not None
            closed_in_period[task.opinion_id] = (task.closed_at, received_at)
            per_assignee[who]["closed"] += 1
        if task.status == "bounced" and _within(task.closed_at, lo, hi):
            bounced += 1
            per_assignee[who]["bounced"] += 1
        if task.status == "open" and task.due_date < today:
            per_assignee[who]["overdue"] += 1
            overdue.append(
                OverdueTask(
                    ref_no,
                    text,
                    who[1],
                    task.due_date,
                    calendar.workdays_between(task.due_date, today),
                )
            )
    assigned_here = {oid: span for oid, span in first_assigned.items() if _within(span[0], lo, hi)}
    overdue.sort(key=lambda o: (o.due_date, o.ref_no))
    by_assignee = sorted(
        (
            AssigneeStats(kind, name, c["assigned"], c["closed"], c["bounced"], c["overdue"])
            for (kind, name), c in per_assignee.items()
        ),
        key=lambda a: (-a.assigned, -a.overdue, a.kind, a.name),
    )

    ratings = (
        await s.execute(
            select(Rating.value, func.count(Rating.id))
            .join(Opinion, Opinion.id == Rating.opinion_id)
            .where(Opinion.station_id == station.id, *_in(Rating.at, lo, hi))  # type: ignore[arg-type]
            .group_by(Rating.value)
        )
    ).all()
    satisfaction = Satisfaction({value: int(n) for value, n in ratings})

    return Stats(
        station_id=station.id,
        station_name=station.name,
        period=period,
        today=today,
        received=sum(themes.values()),
        by_theme=by_theme,
        by_status=by_status,
        assigned=len(assigned_here),
        closed=len(closed_in_period),
        bounced=bounced,
        avg_days_to_assign=_mean_days(a - r for a, r in assigned_here.values()),
        avg_days_to_close=_mean_days(c - r for c, r in closed_in_period.values()),
        by_assignee=by_assignee,
        overdue=overdue,
        satisfaction=satisfaction,
    )


async def compute_stats(
    ctx: ServiceContext, station_id: int, period: Period, calendar: WorkCalendar | None = None
) -> Stats:
    """Statistics for one station and period, in their own read transaction."""
    async with ctx.sessions() as s:
        station = await s.get(Station, station_id)
        if station is None:
            raise LookupError(f"no station {station_id}")
        return await collect_stats(s, ctx, station, period, calendar or WorkCalendar())


async def period_texts(s: AsyncSession, station_id: int, period: Period, tz: ZoneInfo) -> list[str]:
    """The texts of the opinions received in `period` (duplicates merged away are left out)."""
    lo, hi = period.bounds(tz)
    return list(
        (
            await s.execute(
                select(Opinion.text).where(
                    Opinion.station_id == station_id,
                    Opinion.status != Status.DUPLICATE,
                    *_in(Opinion.created_at, lo, hi),  # type: ignore[arg-type]
                )
            )
        ).scalars()
    )


# ---- keywords and growth ------------------------------------------------------------------------


_extractor: Any = None
_extractor_lock = threading.Lock()


def _keyword_extractor() -> Any:
    """jieba's TF-IDF extractor on the classifier's tokenizer, so 助餐点 and 加装电梯 stay whole.

    Built once (it loads jieba's IDF table and word tags); jieba's global tokenizer would lack the
    domain dictionary and write its cache to /tmp.
    """
    global _extractor
    with _extractor_lock:
        if _extractor is None:
            import jieba.analyse
            import jieba.posseg

            from domain.classifier.segment import tokenizer

            tok = tokenizer()
            extractor = jieba.analyse.TFIDF()
            extractor.tokenizer = tok
            extractor.postokenizer = jieba.posseg.POSTokenizer(tok)
            _extractor = extractor
        return _extractor


def top_keywords(texts: Sequence[str], k: int = KEYWORDS_TOP) -> list[str]:
    """jieba's TF-IDF keywords over the texts, without words every opinion contains."""
    if not texts:
        return []
    body = "\n".join(texts)
    found = _keyword_extractor().extract_tags(body, topK=k * 4, allowPOS=KEYWORD_POS)
    out: list[str] = []
    for word in found:
        w = str(word).strip()
        if len(w) < 2 or w in STOP_WORDS or w.isdigit():
            continue
        out.append(w)
        if len(out) == k:
            break
    return out


def theme_growth(
    ctx: ServiceContext, now: dict[str, int], before: dict[str, int], top: int = GROWTH_TOP
) -> list[tuple[str, int, int]]:
    """Themes with the largest increase over the previous period: (label, now, before)."""
    rows = [
        (ctx.theme_label(theme), n, before.get(theme, 0))
        for theme, n in now.items()
        if n > before.get(theme, 0)
    ]
    rows.sort(key=lambda r: (-(r[1] - r[2]), -r[1], r[0]))
    return rows[:top]


# ---- rendering ---------------------------------------------------------------------------------


def _overdue_lines(stats: Stats) -> list[str]:
    return [
        tr.overdue_line(o.ref_no, o.assignee, o.due_date, o.workdays_overdue, o.text)
        for o in stats.overdue
    ]


def _satisfaction_line(stats: Stats) -> str:
    counts = {k: stats.satisfaction.count(k) for k in SATISFACTION_KEYS}
    return tr.satisfaction_line(counts, stats.satisfaction.rate)


def stats_text(stats: Stats) -> str:
    text = tr.stats_text(
        stats.station_name,
        stats.period.label(),
        stats.received,
        [(label, n) for _, label, n in stats.by_theme],
        [(status_name(st), n) for st, n in stats.by_status],
        stats.assigned,
        stats.closed,
        stats.bounced,
        stats.avg_days_to_assign,
        stats.avg_days_to_close,
        [(a.kind, a.name, a.assigned, a.closed, a.bounced, a.overdue) for a in stats.by_assignee],
        _overdue_lines(stats),
        _satisfaction_line(stats),
        stats.today,
    )
    if not stats.received:
        text += "\n\n" + tr.no_opinions_yet()
    return text


def chart_panels(stats: Stats) -> list[charts.Panel]:
    panels = [
        charts.Panel(tr.CHART_THEMES, [(label, n) for _, label, n in stats.by_theme], "barh"),
        charts.Panel(tr.CHART_STATUS, [(status_name(st), n) for st, n in stats.by_status], "barh"),
        charts.Panel(
            tr.chart_satisfaction(stats.satisfaction.rate),
            [(tr.SATISFACTION_LABELS[k], stats.satisfaction.count(k)) for k in SATISFACTION_KEYS],
            "bar",
        ),
    ]
    if stats.by_assignee:
        panels.append(
            charts.Panel(
                tr.CHART_ASSIGNEES,
                [(a.name, a.assigned) for a in stats.by_assignee[:10]],
                "barh",
            )
        )
    return panels


async def render_chart(stats: Stats) -> bytes | None:
    """The stats chart as PNG, drawn off the event loop; None (logged) if it cannot be drawn."""
    title = tr.chart_title(stats.station_name, stats.period.label())
    try:
        return await asyncio.to_thread(charts.render_panels, title, chart_panels(stats))
    except charts.ChartError:
        log.warning("chart not drawn", exc_info=True)
        return None


async def build_briefing(
    ctx: ServiceContext,
    station_id: int,
    period: Period,
    calendar: WorkCalendar | None = None,
) -> Briefing:
    """The 工作简报 for one station and period: used on demand and by the scheduler."""
    async with ctx.sessions() as s:
        station = await s.get(Station, station_id)
        if station is None:
            raise LookupError(f"no station {station_id}")
        stats = await collect_stats(s, ctx, station, period, calendar or WorkCalendar())
        texts = await period_texts(s, station_id, period, ctx.tz)
        previous = period.previous()
        before = await theme_counts(s, station_id, previous, ctx.tz) if previous else {}
    return await _finish_briefing(ctx, stats, texts, before)


async def _finish_briefing(
    ctx: ServiceContext, stats: Stats, texts: list[str], before: dict[str, int]
) -> Briefing:
    keywords = await asyncio.to_thread(top_keywords, texts)
    growth = theme_growth(ctx, stats.theme_counts(), before) if stats.period.previous() else []
    text = tr.briefing_text(
        stats.station_name,
        stats.period.label(),
        stats.received,
        stats.assigned,
        stats.closed,
        _overdue_lines(stats),
        _satisfaction_line(stats),
        growth,
        keywords,
        ctx.clock.now().astimezone(ctx.tz),
    )
    chart = await render_chart(stats)
    if chart is None:
        text += "\n" + tr.chart_unavailable()
    return Briefing(text, chart, stats, keywords, growth)


BriefingSender = Callable[[int, Briefing], Awaitable[None]]


async def post_briefing(
    ctx: ServiceContext,
    station_id: int,
    period: Period,
    send: BriefingSender,
    calendar: WorkCalendar | None = None,
) -> bool:
    """Build the briefing and hand it to `send(staff_chat_id, briefing)`.

    False (nothing built) when the station has no staff chat bound yet.
    """
    async with ctx.sessions() as s:
        station = await s.get(Station, station_id)
        chat_id = station.staff_chat_id if station else None
    if chat_id is None:
        return False
    await send(chat_id, await build_briefing(ctx, station_id, period, calendar))
    return True


# ---- the briefing schedule ----------------------------------------------------------------------

DEFAULT_RULE = {"type": "semimonthly"}
DEFAULT_BRIEFING_TIME = time(9, 0)


@dataclass(frozen=True)
class BriefingSlot:
    """One scheduled briefing: when it is due, what it covers, and a key to send it once."""

    at: datetime
    period: Period
    key: str


async def latest_briefing_slot(
    ctx: ServiceContext,
    station_id: int,
    now: datetime,
    calendar: WorkCalendar | None = None,
) -> BriefingSlot | None:
    """The most recent briefing moment at or before `now`, for the scheduler.

    Briefings follow the station's repeating progress meeting (推进会, the first active one), else
    every half month (the 1st and 16th, moved to the next working day, 09:00). A half-monthly
    briefing covers the last complete half month; any other rhythm covers the time since the
    previous meeting. Insert it into the outbox under `key` and it goes out once.
    """
    calendar = calendar or WorkCalendar()
    async with ctx.sessions() as s:
        meeting = (
            await s.execute(
                select(Meeting)
                .where(
                    Meeting.station_id == station_id,
                    Meeting.kind == "progress",
                    Meeting.active,
                )
                .order_by(Meeting.id)
            )
        ).scalars()
        repeating = next(
            (m for m in meeting if m.recurrence and m.recurrence.get("type") != "once"), None
        )
    if repeating is not None:
        start, rule = repeating.starts_at, repeating.recurrence
    else:
        start = datetime.combine(date(2000, 1, 1), DEFAULT_BRIEFING_TIME, tzinfo=ctx.tz)
        rule = DEFAULT_RULE
    past: list[datetime] = []
    for when in occurrences(start, rule, ctx.tz, calendar, now - timedelta(days=100), 10_000):
        if when > now:
            break
        past.append(when)
    if not past:
        return None
    at = past[-1]
    day = at.astimezone(ctx.tz).date()
    if rule and rule.get("type") == "semimonthly":
        current = Period.half_month(day)
        period = current.previous()
        assert period is not None
    elif len(past) >= 2:
        period = Period.between(past[-2].astimezone(ctx.tz).date(), day)
    else:
        period = Period.between(day - timedelta(days=14), day)
    key = f"briefing:{station_id}:{at.astimezone(UTC):%Y%m%dT%H%M}"
    return BriefingSlot(at, period, key)


# ---- the service handlers call ----------------------------------------------------------------------


@dataclass
class ReportsService:
    ctx: ServiceContext
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    async def _staff_station(
        self, s: AsyncSession, sender: Sender, chat_id: int | None
    ) -> Station | None:
        """The station the caller is staff of (the staff group's station, else their own)."""
        user = await upsert_user(s, sender)
        station = await station_by_staff_chat(s, chat_id) if chat_id is not None else None
        if station is None:
            station = await station_of(s, self.ctx, user)
        if not is_staff(await role_of(s, self.ctx, user, station.id)):
            return None
        return station

    async def stats(self, sender: Sender, raw: str, chat_id: int | None = None) -> Report:
        """`/stats [本周|本月|全部|YYYY-MM-DD YYYY-MM-DD]` for staff; default 本月."""
        today = local_today(self.ctx)
        async with self.ctx.sessions.begin() as s:
            station = await self._staff_station(s, sender, chat_id)
            if station is None:
                return Report(Reply(tr.only_staff()))
            period = parse_period(raw, today)
            if period is None:
                return Report(Reply(tr.stats_usage()))
            stats = await collect_stats(s, self.ctx, station, period, self.calendar)
        return Report(Reply(stats_text(stats)), await render_chart(stats))

    async def briefing(self, sender: Sender, raw: str = "", chat_id: int | None = None) -> Report:
        """`/briefing [period]` on demand; default: the current half month so far."""
        today = local_today(self.ctx)
        async with self.ctx.sessions.begin() as s:
            station = await self._staff_station(s, sender, chat_id)
            if station is None:
                return Report(Reply(tr.only_staff()))
            period = parse_period(raw, today, Period.half_month(today))
            if period is None:
                return Report(Reply(tr.stats_usage()))
            stats = await collect_stats(s, self.ctx, station, period, self.calendar)
            texts = await period_texts(s, station.id, period, self.ctx.tz)
            previous = period.previous()
            before = await theme_counts(s, station.id, previous, self.ctx.tz) if previous else {}
        done = await _finish_briefing(self.ctx, stats, texts, before)
        return Report(Reply(done.text), done.chart)
