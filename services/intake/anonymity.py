"""改为匿名 after assignment: the name comes off every task card not yet delivered; for cards
already delivered the resident is told who has seen it (a sent message cannot be unsent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.message import Message, Rich, Span
from domain.states import OutboxStatus
from storage.models import Opinion, Outbox, Task, Unit, User

ANONYMOUS = "匿名群众"
LABEL = "反映人："


async def withdraw_name(s: AsyncSession, op: Opinion) -> list[str]:
    """Make the op's task cards anonymous where still possible; who has already seen the name."""
    tasks = (await s.execute(select(Task).where(Task.opinion_id == op.id))).scalars().all()
    seen: list[str] = []
    for task in tasks:
        row = (
            await s.execute(select(Outbox).where(Outbox.key == f"task:new:{task.id}"))
        ).scalar_one_or_none()
        if row is None:
            continue
        card = Message.from_json(row.message)
        if f"{LABEL}{ANONYMOUS}\n" in card.plain:
            continue
        if row.status == OutboxStatus.PENDING:
            row.message = Message(_anonymised(card.text), card.actions, card.file).to_json()
            continue
        name = await _assignee_name(s, task)
        if name not in seen:
            seen.append(name)
    return seen


def _anonymised(text: Rich) -> Rich:
    spans = []
    for span in text.spans:
        head, found, rest = span.text.partition(LABEL)
        if found:
            _, newline, tail = rest.partition("\n")
            span = Span(f"{head}{LABEL}{ANONYMOUS}{newline}{tail}", span.style, span.url)
        spans.append(span)
    return Rich(spans)


async def _assignee_name(s: AsyncSession, task: Task) -> str:
    if task.assignee_user_id is not None:
        user = await s.get(User, task.assignee_user_id)
        return user.display_name if user else "承办代表"
    unit = await s.get(Unit, task.assignee_unit_id) if task.assignee_unit_id else None
    return unit.name if unit else "承办部门"
