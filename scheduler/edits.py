"""Sending an edit row (services.kernel.edits): find the edited message's platform id, edit it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from domain.states import OutboxStatus
from scheduler.delivery import DeliveryResult
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.edits import target_of
from storage.models import Outbox

WAIT_FOR_TARGET = timedelta(seconds=30)


async def _target(ctx: ServiceContext, key: str | None) -> tuple[str, str | None] | None:
    if key is None:
        return None
    async with ctx.sessions() as s:
        row = (
            await s.execute(select(Outbox.status, Outbox.sent_message_id).where(Outbox.key == key))
        ).first()
    return None if row is None else (str(row[0]), row[1])


async def send_edit(
    ctx: ServiceContext, adapter: object, row: outbox.Claimed, owner: str
) -> DeliveryResult | None:
    """Edit the target message; None when the row was settled here (dropped or postponed)."""
    found = await _target(ctx, target_of(row.key))
    edit = getattr(adapter, "edit", None)
    if found is None or edit is None:
        await outbox.finish(ctx, row.id, owner, OutboxStatus.DROPPED, error="nothing to edit")
        return None
    status, message_id = found
    if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        retry = ctx.clock.now() + WAIT_FOR_TARGET
        await outbox.release(ctx, row.id, owner, retry, "the message is not sent yet")
        return None
    if status != OutboxStatus.SENT or not message_id:
        await outbox.finish(ctx, row.id, owner, OutboxStatus.DROPPED, error="never sent")
        return None
    result: DeliveryResult = await edit(row.to, message_id, row.message)
    return result
