"""The staff triage card, posted by intake, ledger import, a bounce and a reopening alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
from domain.lifecycle import OPEN_FOR_TRIAGE
from domain.message import Action, Actions, Message, Rich
from domain.states import OpinionSource
from services.kernel.context import ServiceContext
from services.kernel.duplicates import Suggested
from services.kernel.notify import tell_staff
from storage.models import Attachment, User


class OpinionView(Protocol):
    """What receipts and staff cards read of an opinion: a stored Opinion, or the snapshot
    intake keeps of the row it has just inserted (services.intake.text.NewOpinion)."""

    @property
    def id(self) -> int: ...
    @property
    def station_id(self) -> int: ...
    @property
    def ref_no(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def theme(self) -> str: ...
    @property
    def theme_confidence(self) -> float: ...
    @property
    def theme_terms(self) -> list[str]: ...
    @property
    def needs_review(self) -> bool: ...
    @property
    def theme_confirmed(self) -> bool: ...
    @property
    def anonymous(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def resident_id(self) -> int | None: ...
    @property
    def on_behalf_of(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def triage_actions(
    ctx: ServiceContext, opinion_id: int, duplicates: Sequence[Suggested] = ()
) -> Actions:
    """The one-tap actions on a staff triage card (scope "t"); one merge button per likely
    original ("t:mg:<opinion>:<original>")."""
    sign = ctx.actions.encode
    merges = tuple(
        (Action(st.btn_merge_into(d.ref_no), sign("t", "mg", opinion_id, d.id)),)
        for d in duplicates
    )
    return (
        (
            Action(st.BTN_CONFIRM_THEME, sign("t", "ok", opinion_id)),
            Action(st.BTN_CHANGE_THEME, sign("t", "th", opinion_id)),
        ),
        (Action(st.BTN_ASSIGN, sign("t", "as", opinion_id)),),
        (
            Action(st.BTN_DUPLICATE, sign("t", "du", opinion_id)),
            Action(st.BTN_REJECT, sign("t", "rj", opinion_id)),
        ),
        *merges,
    )


async def duplicate_suggestions(
    s: AsyncSession, ctx: ServiceContext, op: OpinionView
) -> list[Suggested]:
    """Likely originals among the station's open opinions, for an opinion staff still triage."""
    if op.status not in OPEN_FOR_TRIAGE:
        return []
    return await ctx.duplicates.suggest(s, op.station_id, op.id, op.text)


async def triage_card(
    s: AsyncSession,
    ctx: ServiceContext,
    op: OpinionView,
    headline: Rich | None = None,
    n_files: int | None = None,
) -> Message:
    """The staff card for an opinion (new, bounced back or reopened), with its actions.

    `n_files`: the number of attachments when the caller knows it (intake just made them).
    """
    resident = await s.get(User, op.resident_id) if op.resident_id else None
    if n_files is None:
        n_files = int(
            (
                await s.execute(
                    select(func.count(Attachment.id)).where(Attachment.opinion_id == op.id)
                )
            ).scalar_one()
        )
    if resident is None:
        who = op.on_behalf_of or st.UNNAMED
    elif op.source == OpinionSource.REPRESENTATIVE:
        who = rt.relayed_by(resident.display_name, op.on_behalf_of)
    else:
        who = resident.display_name
    text = st.new_opinion(
        op.ref_no,
        ctx.theme_label(op.theme),
        op.theme_confidence,
        op.theme_terms,
        op.needs_review and not op.theme_confirmed,
        op.text,
        who,
        resident.username if resident else None,
        op.anonymous and resident is not None,
        n_files,
        fresh=headline is None,
    )
    if ctx.out_of_scope(op.theme):
        text = text + "\n" + st.out_of_scope_note()
    duplicates = await duplicate_suggestions(s, ctx, op)
    for d in duplicates:
        text = text + "\n" + st.possible_duplicate(d.ref_no, d.score)
    if headline:
        text = headline + "\n\n" + text
    return Message(text, triage_actions(ctx, op.id, duplicates))


async def post_triage_card(
    s: AsyncSession,
    ctx: ServiceContext,
    station_id: int,
    op: OpinionView,
    due_at: datetime,
    n_files: int | None = None,
) -> None:
    """Queue the card for a new opinion in the station's staff chat (once per opinion)."""
    card = await triage_card(s, ctx, op, n_files=n_files)
    await tell_staff(s, station_id, f"staff:new:{op.id}", card, due_at, op.id)
