"""回访: what a rating does to the case, whoever gives it (the resident's press, or staff who
record a rating given on the phone), and 督办 when the resident is not satisfied again.

不满意 the first time reopens the case to staff; at `CaseworkPolicy.supervise_after` (default the
second time) it becomes a 督办 item for staff instead of another silent reopening.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import texts.casework as kt
import texts.resident as rt
import texts.staff as st
from domain.lifecycle import Action, IllegalTransition, Status
from domain.message import Message
from domain.states import RatingValue, TaskStatus
from services.kernel import audit
from services.kernel.cards import triage_card
from services.kernel.casecard import staff_event
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from services.kernel.settings import policy_for
from storage.models import Opinion, Task

REOPENED, SUPERVISED, RATED, NOTED = "reopened", "supervised", "rated", "noted"


@dataclass(frozen=True)
class Settled:
    what: str  # REOPENED | SUPERVISED | RATED | NOTED (a co-signer's, or a late rating)

    @property
    def back_to_staff(self) -> bool:
        return self.what in (REOPENED, SUPERVISED)


async def settle(
    s: AsyncSession,
    ctx: ServiceContext,
    op: Opinion,
    task: Task,
    value: RatingValue,
    actor_id: int | None,
    now: datetime,
    *,
    main: bool,
    note: bool = True,
) -> Settled:
    """Move the case by the main rating, and tell staff what it means."""
    what = NOTED
    if main and op.status == Status.CLOSED and task.status == TaskStatus.CLOSED:
        unsatisfied = value is RatingValue.UNSATISFIED
        action = Action.RATE
        if unsatisfied:
            policy = await policy_for(s, ctx, op.station_id)
            again = op.reopen_count + 1 >= policy.supervise_after
            action = Action.SUPERVISE if again else Action.RATE_UNSATISFIED
        with contextlib.suppress(IllegalTransition):
            await audit.transition(
                s,
                op,
                action,
                actor_id,
                now,
                note=value,
                satisfaction=value,
                reopen_count=op.reopen_count + (1 if unsatisfied else 0),
            )
            what = {Action.RATE: RATED, Action.SUPERVISE: SUPERVISED}.get(action, REOPENED)
    label = rt.RATING_LABELS[value]
    if what in (REOPENED, SUPERVISED):  # open again: a candidate for duplicate suggestions
        ctx.duplicates.add(op.station_id, op.id, op.text)
    if what == REOPENED:
        card = await triage_card(s, ctx, op, st.reopened(op.ref_no))
        await tell_staff(s, op.station_id, f"staff:reopen:{task.id}", card, now, op.id)
    elif what == SUPERVISED:
        card = await triage_card(s, ctx, op, kt.supervise(op.ref_no, op.reopen_count))
        await tell_staff(s, op.station_id, f"staff:supervise:{task.id}", card, now, op.id)
    elif note:  # (a rating staff recorded needs no note to themselves)
        told = Message(st.rated(op.ref_no, label))
        key = f"staff:rated:{task.id}:{actor_id}"
        await staff_event(s, ctx, op, key, told, now)
    return Settled(what)
