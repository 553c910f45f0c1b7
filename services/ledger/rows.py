"""The ledger's rows (问题清单 / 整改台账), one per opinion, from the live tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.ledger as tl
import texts.reports as tr
from domain.message import Message
from domain.states import EventKind, TaskStatus
from services.kernel.context import ServiceContext
from storage.models import Opinion, OpinionEvent, Task, Unit, User
from texts.assignee import OUTCOME_LABELS
from texts.common import status_name

REAL_NAME_WORDS = frozenset({"实名", "真名", "姓名", "names", "real"})
IMPORT_DETAIL_ACTION = EventKind.IMPORT_DETAIL.value


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ cost 3 µs a row
class LedgerRow:
    ref_no: str
    received: datetime  # station-local, naive (Excel has no time zones)
    resident: str
    contact: str
    theme: str
    theme_label: str
    text: str
    assignee: str
    deadline: date | None
    status: str
    progress: str
    outcome: str
    satisfaction: str
    satisfaction_key: str | None


@dataclass(frozen=True)
class Export:
    """What /export answers: a caption, and the workbook when the caller may have it."""

    reply: Message
    data: bytes | None = None
    filename: str | None = None
    count: int = 0


def mask_name(name: str | None) -> str:
    """王阿姨 → 王**; nothing known → 匿名群众."""
    name = "".join((name or "").split())  # "王 阿姨" from Telegram's first and last name
    if not name:
        return tr.ANONYMOUS
    return name[0] + "*" * min(max(len(name) - 1, 1), 4)


def clean(value: str) -> str:
    """Control characters are illegal in xlsx XML; a resident's text may contain them."""
    return str(ILLEGAL_CHARACTERS_RE.sub("", value))


@dataclass(frozen=True)
class Scope:
    """Which opinions a ledger holds: a station, optionally received in [lo, hi)."""

    station_id: int
    lo: datetime | None = None
    hi: datetime | None = None

    def where(self) -> list[Any]:
        conds: list[Any] = [Opinion.station_id == self.station_id]
        if self.lo is not None:
            conds.append(Opinion.created_at >= self.lo)
        if self.hi is not None:
            conds.append(Opinion.created_at < self.hi)
        return conds


OPINION_COLUMNS = (
    Opinion.id,
    Opinion.ref_no,
    Opinion.created_at,
    Opinion.resident_id,
    Opinion.on_behalf_of,
    Opinion.anonymous,
    Opinion.theme,
    Opinion.text,
    Opinion.status,
    Opinion.satisfaction,
)
TASK_COLUMNS = (
    Task.opinion_id,
    Task.status,
    Task.assignee_unit_id,
    Task.assignee_user_id,
    Task.due_date,
    Task.outcome,
)
# Opinions per round trip: their ids (and their people's) are bound as parameters, far below
# 32767; 5,000 halved the statements' and transactions' share of a million-row export.
CHUNK = 5000


async def count_ledger_rows(s: AsyncSession, scope: Scope) -> int:
    return int((await s.execute(select(func.count()).where(*scope.where()))).scalar_one())


async def stream_ledger_rows(
    ctx: ServiceContext, scope: Scope, real_names: bool, chunk: int = CHUNK
) -> AsyncIterator[list[LedgerRow]]:
    """The ledger's rows oldest first, `chunk` opinions at a time, each chunk read in its own
    short transaction (keyset pagination on (created_at, id)): memory stays flat however large
    the station, and a long export never holds the database from the bot's writers."""
    async with ctx.sessions() as s:
        units = await _unit_names(s, scope.station_id)
    after: tuple[datetime, int] | None = None
    while True:
        async with ctx.sessions() as s:
            ops = await _opinions_after(s, scope, after, chunk)
            if not ops:
                return
            rows = await _rows(s, ctx, ops, _page(scope, after, chunk), units, real_names)
        after = (ops[-1].created_at, ops[-1].id)
        yield rows


async def load_ledger_rows(
    s: AsyncSession, ctx: ServiceContext, station_id: int, real_names: bool
) -> list[LedgerRow]:
    """Every opinion of the station as a ledger row, oldest first, in the caller's session."""
    scope, units = Scope(station_id), await _unit_names(s, station_id)
    rows: list[LedgerRow] = []
    after: tuple[datetime, int] | None = None
    while ops := await _opinions_after(s, scope, after, CHUNK):
        rows += await _rows(s, ctx, ops, _page(scope, after, CHUNK), units, real_names)
        after = (ops[-1].created_at, ops[-1].id)
    return rows


async def _unit_names(s: AsyncSession, station_id: int) -> dict[int, str]:
    found = await s.execute(select(Unit.id, Unit.name).where(Unit.station_id == station_id))
    return {uid: name for uid, name in found}


def _page(scope: Scope, after: tuple[datetime, int] | None, chunk: int, *columns: Any) -> Any:
    """The next `chunk` opinions after `after`, oldest first (keyset on (created_at, id))."""
    q = select(*columns).where(*scope.where())
    if after is not None:
        # A range on created_at the index can walk in order (an OR of the two cases made
        # PostgreSQL sort the whole rest of the period for every chunk), then the tie-break.
        q = q.where(
            Opinion.created_at >= after[0],
            or_(Opinion.created_at > after[0], Opinion.id > after[1]),
        )
    return q.order_by(Opinion.created_at, Opinion.id).limit(chunk)


async def _opinions_after(
    s: AsyncSession, scope: Scope, after: tuple[datetime, int] | None, chunk: int
) -> Sequence[Any]:
    rows: Sequence[Any] = (await _core(s, _page(scope, after, chunk, *OPINION_COLUMNS))).all()
    return rows


async def _core(s: AsyncSession, stmt: Any) -> Any:
    """Plain rows through the session's connection: no ORM row processing per row."""
    return await (await s.connection()).execute(stmt)


@dataclass
class _Chunk:
    """What one chunk of opinions refers to, each fetched with one statement."""

    latest: dict[int, Any]
    latest_closed: dict[int, Any]
    people: dict[int, Any]
    notes: dict[int, list[str]]
    contacts: dict[int, str]


PEOPLE_COLUMNS = (User.id, User.first_name, User.last_name, User.username, User.phone)


async def _related(s: AsyncSession, ctx: ServiceContext, page: Any) -> _Chunk:
    """The chunk's tasks, people and notes, each by the chunk's own keyset query as a subquery
    (binding its 5,000 ids as parameters cost 15 s of a million-row export's CPU)."""
    ids = page.with_only_columns(Opinion.id)
    latest: dict[int, Any] = {}
    latest_closed: dict[int, Any] = {}
    tasks = await _core(s, select(*TASK_COLUMNS).where(Task.opinion_id.in_(ids)).order_by(Task.id))
    for t in tasks.all():
        latest[t.opinion_id] = t
        if t.status == TaskStatus.CLOSED:
            latest_closed[t.opinion_id] = t
    residents = select(*PEOPLE_COLUMNS).where(
        User.id.in_(select(Opinion.resident_id).where(Opinion.id.in_(ids)))
    )
    people = {u.id: u for u in (await _core(s, residents)).all()}
    assignees = {t.assignee_user_id for t in latest.values()} - {None} - set(people)
    if assignees:
        found = await _core(s, select(*PEOPLE_COLUMNS).where(User.id.in_(assignees)))
        people.update({u.id: u for u in found.all()})
    notes: dict[int, list[str]] = defaultdict(list)
    contacts: dict[int, str] = {}
    events = await _core(
        s,
        select(OpinionEvent.opinion_id, OpinionEvent.action, OpinionEvent.at, OpinionEvent.note)
        .where(
            OpinionEvent.opinion_id.in_(ids),
            OpinionEvent.action.in_(("progress", IMPORT_DETAIL_ACTION)),
        )
        .order_by(OpinionEvent.at, OpinionEvent.id),
    )
    for opinion_id, action, at, note in events.all():
        if action == "progress" and note:
            notes[opinion_id].append(tl.progress_line(at.astimezone(ctx.tz).date(), note))
        elif action == IMPORT_DETAIL_ACTION and note:
            contact = _detail_field(note, "联系方式")
            if contact:
                contacts[opinion_id] = contact
    return _Chunk(latest, latest_closed, people, notes, contacts)


def _display_name(u: Any) -> str:
    """As User.display_name, from the columns."""
    name = " ".join(p for p in (u.first_name, u.last_name) if p).strip()
    if not name and u.username:
        name = "@" + u.username
    return name or f"用户{u.id}"


async def _rows(
    s: AsyncSession,
    ctx: ServiceContext,
    ops: Sequence[Any],
    page: Any,
    units: dict[int, str],
    real_names: bool,
) -> list[LedgerRow]:
    c = await _related(s, ctx, page)
    return [_row(ctx, op, c, units, real_names) for op in ops]


def _row(
    ctx: ServiceContext, op: Any, c: _Chunk, units: dict[int, str], real_names: bool
) -> LedgerRow:
    resident = c.people.get(op.resident_id) if op.resident_id is not None else None
    if not real_names and op.anonymous and resident is not None:
        shown = tr.ANONYMOUS  # (the name is not even looked at)
    else:
        name = _display_name(resident) if resident else op.on_behalf_of
        shown = (name or tr.ANONYMOUS) if real_names else mask_name(name)
    contact = ""
    if real_names:
        contact = (resident.phone if resident and resident.phone else "") or c.contacts.get(
            op.id, ""
        )
    task = c.latest.get(op.id)
    assignee = ""
    if task is not None:
        if task.assignee_unit_id is not None and task.assignee_unit_id in units:
            assignee = units[task.assignee_unit_id]
        elif task.assignee_user_id is not None and task.assignee_user_id in c.people:
            assignee = _display_name(c.people[task.assignee_user_id])
        if task.status == TaskStatus.BOUNCED:
            assignee = tl.bounced_assignee(assignee)
    closed = c.latest_closed.get(op.id)
    outcome = (
        OUTCOME_LABELS.get(closed.outcome, closed.outcome) if closed and closed.outcome else ""
    )
    return LedgerRow(
        ref_no=op.ref_no,
        received=op.created_at.astimezone(ctx.tz).replace(tzinfo=None),
        resident=shown,
        contact=contact,
        theme=op.theme,
        theme_label=ctx.theme_label(op.theme),
        text=op.text,
        assignee=assignee,
        # A bounced task's deadline no longer binds anyone.
        deadline=task.due_date if task is not None and task.status != TaskStatus.BOUNCED else None,
        status=status_name(op.status),
        progress="\n".join(c.notes.get(op.id, [])),
        outcome=outcome or "",
        satisfaction=tr.satisfaction_label(op.satisfaction),
        satisfaction_key=op.satisfaction,
    )


def _detail_field(note: str, name: str) -> str:
    for part in note.split("\n"):
        key, _, value = part.partition("：")
        if key == name:
            return value
    return ""
