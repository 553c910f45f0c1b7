"""The three rates of 接诉即办 (响应率, 解决率, 满意率), per case, as SQL aggregates.

Definitions (docs/casework.md):
- 响应率: of the tasks assigned (交办) in the period, the share signed (签收) within the
  station's response limit (default 1 working day after 交办). A case assigned twice counts
  each assignment; the limit is checked against the working-day calendar.
- 解决率: of the cases closed (办结) in the period (a case once: its latest closure), the share
  whose outcome counts as solved (default A; a station may count A and B).
- 满意率: of the cases whose final rating (the resident's latest, or the rating staff recorded
  on the phone) was given in the period, the share 满意 or 基本满意. 未评价 is no answer and
  stays out. A case rated 不满意 and then 满意 counts once, as 满意.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.periods import Period
from domain.states import TaskStatus
from services.kernel.context import ServiceContext
from services.kernel.policy import CaseworkPolicy
from services.kernel.settings import policy_for
from storage.models import Opinion, Rating, Task, Unit, User
from storage.queries.ratings import is_final

RATED_KEYS = ("satisfied", "basic", "unsatisfied")


def _in(column: Any, lo: datetime | None, hi: datetime | None) -> list[Any]:
    conds: list[Any] = []
    if lo is not None:
        conds.append(column >= lo)
    if hi is not None:
        conds.append(column < hi)
    return conds


async def final_rating_counts(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> dict[str, int]:
    """Cases by their final rating, for final ratings given in [lo, hi)."""
    rows = await s.execute(
        select(Rating.value, func.count(Rating.id))
        .join(Opinion, Opinion.id == Rating.opinion_id)
        .where(
            Opinion.station_id == station_id,
            is_final(),
            *_in(Rating.at, lo, hi),
        )
        .group_by(Rating.value)
    )
    return {str(value): int(n) for value, n in rows.all()}


# ---- the three rates, overall and per assignee ------------------------------------------------

UNIT, REP = "unit", "representative"
# Weights of the composite score used for the ranking (排名): 响应 10%, 解决 45%, 满意 45%.
WEIGHTS = (0.10, 0.45, 0.45)


@dataclass(frozen=True)
class RateRow:
    """One assignee's (or the station's) counts; each rate is None when it has no cases."""

    kind: str  # unit kind (group | department), REP, or "" for the whole station
    name: str
    assigned: int = 0
    responded: int = 0
    closed: int = 0
    solved: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.assigned if self.assigned else None

    @property
    def solve_rate(self) -> float | None:
        return self.solved / self.closed if self.closed else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def score(self) -> float | None:
        """Weighted mean of the rates this row has (the weights of the missing ones drop out)."""
        pairs = [
            (w, r)
            for w, r in zip(
                WEIGHTS, (self.response_rate, self.solve_rate, self.satisfaction_rate), strict=True
            )
            if r is not None
        ]
        if not pairs:
            return None
        return sum(w * r for w, r in pairs) / sum(w for w, _ in pairs)

    def plus(self, other: RateRow) -> RateRow:
        return replace(
            self,
            assigned=self.assigned + other.assigned,
            responded=self.responded + other.responded,
            closed=self.closed + other.closed,
            solved=self.solved + other.solved,
            rated=self.rated + other.rated,
            satisfied=self.satisfied + other.satisfied,
            overdue=self.overdue + other.overdue,
        )


@dataclass(frozen=True)
class Rates:
    overall: RateRow
    ranking: list[RateRow]  # assignees, best score first (排名); rows without any rate last


Key = tuple[int | None, int | None]  # (unit id, representative id)


def _who() -> tuple[Any, Any]:
    """Group by the unit, else the representative (a staff proxy's task counts for its unit)."""
    rep = case((Task.assignee_unit_id.is_(None), Task.assignee_user_id), else_=None)
    return Task.assignee_unit_id, rep


async def _grouped(s: AsyncSession, stmt: Any) -> dict[Key, tuple[int, int]]:
    rows = await s.execute(stmt)
    return {(unit, rep): (int(n or 0), int(k or 0)) for unit, rep, n, k in rows.all()}


def _count_if(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


async def compute_rates(
    s: AsyncSession,
    station_id: int,
    lo: datetime | None,
    hi: datetime | None,
    today: date,
    policy: CaseworkPolicy,
) -> Rates:
    """The three rates for [lo, hi), overall and per assignee, each count one SQL aggregate."""
    unit, rep = _who()
    here = Task.station_id == station_id
    timely = or_(
        Task.acknowledged_at <= Task.respond_by,
        and_(Task.status == TaskStatus.BOUNCED, Task.closed_at <= Task.respond_by),
    )
    response = await _grouped(
        s,
        select(unit, rep, func.count(Task.id), _count_if(timely))
        .where(here, Task.respond_by.is_not(None), *_in(Task.assigned_at, lo, hi))
        .group_by(unit, rep),
    )
    last_closure = (
        select(func.max(Task.id)).where(Task.status == TaskStatus.CLOSED).group_by(Task.opinion_id)
    )
    solving = await _grouped(
        s,
        select(unit, rep, func.count(Task.id), _count_if(Task.outcome.in_(policy.solved_outcomes)))
        .where(here, Task.id.in_(last_closure), *_in(Task.closed_at, lo, hi))
        .group_by(unit, rep),
    )
    rated = Rating.value.in_(RATED_KEYS)
    satisfying = await _grouped(
        s,
        select(unit, rep, _count_if(rated), _count_if(Rating.value.in_(("satisfied", "basic"))))
        .select_from(Rating)
        .join(Task, Task.id == Rating.task_id)
        .where(here, is_final(), *_in(Rating.at, lo, hi))
        .group_by(unit, rep),
    )
    late = await _grouped(
        s,
        select(unit, rep, func.count(Task.id), func.count(Task.id))
        .where(here, Task.status == TaskStatus.OPEN, Task.due_date < today)
        .group_by(unit, rep),
    )
    acc: dict[Key, Counter[str]] = {}
    for key in {*response, *solving, *satisfying, *late}:
        a, r = response.get(key, (0, 0))
        c, v = solving.get(key, (0, 0))
        n, ok = satisfying.get(key, (0, 0))
        acc[key] = Counter(
            assigned=a, responded=r, closed=c, solved=v, rated=n, satisfied=ok,
            overdue=late.get(key, (0, 0))[0],
        )  # fmt: skip
    return ranked(await rate_names(s, set(acc)), acc)


def ranked(names: dict[Key, tuple[str, str]], counts: dict[Key, Counter[str]]) -> Rates:
    """The rows per assignee, the station's total, and the ranking (排名)."""
    rows: dict[Key, RateRow] = {}
    for key, (kind, name) in names.items():
        c = counts.get(key, Counter())
        rows[key] = RateRow(
            kind, name, c["assigned"], c["responded"], c["closed"], c["solved"], c["rated"],
            c["satisfied"], c["overdue"],
        )  # fmt: skip
    overall = RateRow("", "")
    for row in rows.values():
        overall = overall.plus(row)
    ranking = sorted(
        rows.values(), key=lambda r: (r.score is None, -(r.score or 0.0), r.overdue, r.name)
    )
    return Rates(overall, ranking)


async def rate_names(s: AsyncSession, keys: set[Key]) -> dict[Key, tuple[str, str]]:
    unit_ids = {u for u, _ in keys if u is not None}
    rep_ids = {r for _, r in keys if r is not None}
    units = {
        u.id: u for u in (await s.execute(select(Unit).where(Unit.id.in_(unit_ids)))).scalars()
    }
    reps = {u.id: u for u in (await s.execute(select(User).where(User.id.in_(rep_ids)))).scalars()}
    out: dict[Key, tuple[str, str]] = {}
    for u, r in keys:
        if u is not None:
            unit = units.get(u)
            out[(u, r)] = (unit.kind if unit else UNIT, unit.name if unit else "—")
        else:
            user = reps.get(r) if r is not None else None
            out[(u, r)] = (REP, user.display_name if user else "—")
    return out


async def station_rates(
    ctx: ServiceContext, station_id: int, period: Period, today: date | None = None
) -> Rates:
    """The rates of one station for `period`, with the station's own policy."""
    lo, hi = period.bounds(ctx.tz)
    async with ctx.sessions() as s:
        policy = await policy_for(s, ctx, station_id)
        day = today or ctx.clock.now().astimezone(ctx.tz).date()
        return await compute_rates(s, station_id, lo, hi, day, policy)
