"""The ledger's rows (问题清单 / 整改台账), one per opinion, from the live tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.message import Message
from domain.states import EventKind, TaskStatus
from services.kernel.context import ServiceContext
from storage.models import Opinion, OpinionEvent, Task, Unit, User
from texts.assignee import OUTCOME_LABELS
from texts.common import status_name

REAL_NAME_WORDS = frozenset({"实名", "真名", "姓名", "names", "real"})
IMPORT_DETAIL_ACTION = EventKind.IMPORT_DETAIL.value


@dataclass(frozen=True)
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


async def load_ledger_rows(
    s: AsyncSession, ctx: ServiceContext, station_id: int, real_names: bool
) -> list[LedgerRow]:
    """Every opinion of the station as a ledger row, oldest first."""
    ops = list(
        (
            await s.execute(
                select(Opinion)
                .where(Opinion.station_id == station_id)
                .order_by(Opinion.created_at, Opinion.id)
            )
        ).scalars()
    )
    tasks = list(
        (
            await s.execute(select(Task).where(Task.station_id == station_id).order_by(Task.id))
        ).scalars()
    )
    latest: dict[int, Task] = {}
    latest_closed: dict[int, Task] = {}
    for t in tasks:
        latest[t.opinion_id] = t
        if t.status == TaskStatus.CLOSED:
            latest_closed[t.opinion_id] = t
    user_ids = {op.resident_id for op in ops if op.resident_id is not None}
    user_ids |= {t.assignee_user_id for t in tasks if t.assignee_user_id is not None}
    users = (
        {u.id: u for u in (await s.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
        if user_ids
        else {}
    )
    units = {
        u.id: u
        for u in (await s.execute(select(Unit).where(Unit.station_id == station_id))).scalars()
    }
    notes: dict[int, list[str]] = defaultdict(list)
    contacts: dict[int, str] = {}
    events = await s.execute(
        select(OpinionEvent.opinion_id, OpinionEvent.action, OpinionEvent.at, OpinionEvent.note)
        .join(Opinion, Opinion.id == OpinionEvent.opinion_id)
        .where(
            Opinion.station_id == station_id,
            OpinionEvent.action.in_(("progress", IMPORT_DETAIL_ACTION)),
        )
        .order_by(OpinionEvent.at, OpinionEvent.id)
    )
    for opinion_id, action, at, note in events.all():
        if action == "progress" and note:
            notes[opinion_id].append(tr.progress_line(at.astimezone(ctx.tz).date(), note))
        elif action == IMPORT_DETAIL_ACTION and note:
            contact = _detail_field(note, "联系方式")
            if contact:
                contacts[opinion_id] = contact

    rows: list[LedgerRow] = []
    for op in ops:
        resident = users.get(op.resident_id) if op.resident_id is not None else None
        name = resident.display_name if resident else op.on_behalf_of
        if real_names:
            shown = name or tr.ANONYMOUS
        elif op.anonymous and resident is not None:
            shown = tr.ANONYMOUS
        else:
            shown = mask_name(name)
        contact = ""
        if real_names:
            contact = (resident.phone if resident and resident.phone else "") or contacts.get(
                op.id, ""
            )
        task = latest.get(op.id)
        assignee = ""
        if task is not None:
            if task.assignee_unit_id is not None and task.assignee_unit_id in units:
                assignee = units[task.assignee_unit_id].name
            elif task.assignee_user_id is not None and task.assignee_user_id in users:
                assignee = users[task.assignee_user_id].display_name
            if task.status == TaskStatus.BOUNCED:
                assignee = tr.bounced_assignee(assignee)
        closed = latest_closed.get(op.id)
        outcome = (
            OUTCOME_LABELS.get(closed.outcome, closed.outcome) if closed and closed.outcome else ""
        )
        rows.append(
            LedgerRow(
                ref_no=op.ref_no,
                received=op.created_at.astimezone(ctx.tz).replace(tzinfo=None),
                resident=shown,
                contact=contact,
                theme=op.theme,
                theme_label=ctx.theme_label(op.theme),
                text=op.text,
                assignee=assignee,
                # A bounced task's deadline no longer binds anyone.
                deadline=task.due_date
                if task is not None and task.status != TaskStatus.BOUNCED
                else None,
                status=status_name(op.status),
                progress="\n".join(notes.get(op.id, [])),
                outcome=outcome or "",
                satisfaction=tr.satisfaction_label(op.satisfaction),
                satisfaction_key=op.satisfaction,
            )
        )
    return rows


def _detail_field(note: str, name: str) -> str:
    for part in note.split("\n"):
        key, _, value = part.partition("：")
        if key == name:
            return value
    return ""
