"""并单: an opinion merged into its original, typed (a reference by reply) or with one tap."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
from domain.lifecycle import Action, Status
from domain.message import Message
from services.kernel import audit
from services.kernel.context import ServiceContext
from services.kernel.notify import resident_ids, tell_residents
from storage.models import CoSigner, Opinion


def can_merge(op: Opinion, original: Opinion | None) -> bool:
    """An original of the same station, not the opinion itself, not merged away itself."""
    return (
        original is not None
        and original.id != op.id
        and original.station_id == op.station_id
        and original.status != Status.DUPLICATE
    )


async def merge_into(
    s: AsyncSession, ctx: ServiceContext, who_id: int, op: Opinion, original: Opinion
) -> None:
    """Mark `op` a duplicate of `original`; its residents become co-signers of the original and
    are told. IllegalTransition when `op` is no longer waiting for triage."""
    now = ctx.clock.now()
    await audit.transition(
        s, op, Action.MERGE, who_id, now, note=original.ref_no, duplicate_of_id=original.id
    )
    ctx.duplicates.forget(op.station_id, op.id)
    for uid in await resident_ids(s, op):
        if uid != original.resident_id:
            exists = (
                await s.execute(
                    select(CoSigner.id).where(
                        CoSigner.opinion_id == original.id, CoSigner.user_id == uid
                    )
                )
            ).scalar_one_or_none()
            if exists is None:
                s.add(
                    CoSigner(opinion_id=original.id, user_id=uid, source_opinion_id=op.id, at=now)
                )
    told = Message(rt.merged(op.ref_no, original.ref_no))
    await tell_residents(s, op, f"res:merged:{op.id}", told, now)
