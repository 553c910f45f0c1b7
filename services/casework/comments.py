"""After an optional rating comment was in doubt (services.casework.answers.ask_comment_or_new):
the resident says which it is (scope "rc": c = a comment on the rating, n = a new opinion).

A new opinion is submitted by the caller (the Router hands the text to intake, which casework
never imports), keyed by the message that carried it, so nothing is registered twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import texts.casework_resident as rk
from domain.channels import Sender
from domain.message import Message
from domain.states import PromptKind
from services.casework.answers import keep_comment
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.results import ActionResult, refused
from storage.models import Opinion
from texts.common import NOT_ALLOWED


@dataclass(frozen=True)
class NewOpinion:
    """Text the resident says is a new opinion, and the id of the message it came in."""

    text: str
    message_id: str


async def comment_choice(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> tuple[ActionResult, NewOpinion | None]:
    if not shape_ok(action, args):
        return refused(rk.nothing_to_decide()), None
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        user = who.user
        data = dict(user.pending_data or {})
        if (
            user.pending_action != PromptKind.RATING_COMMENT
            or data.get("task") != args[0]
            or "doubt" not in data
        ):
            return refused(rk.nothing_to_decide()), None  # a stale press: nothing changes
        op = await s.get(Opinion, user.pending_opinion_id) if user.pending_opinion_id else None
        if op is None or not await who.allows(Need.RESIDENT, opinion=op):
            return refused(NOT_ALLOWED), None
        user.pending_action = None
        user.pending_opinion_id = None
        user.pending_data = None
        text = str(data["doubt"])
        if action == "c":
            await keep_comment(s, ctx, op, who.id, args[0], text, ctx.clock.now())
            return ActionResult(edit=Message(rk.comment_kept())), None
        # The carrying message already answered the question (inbound_messages): the opinion
        # gets its own source key beside it.
        return ActionResult(), NewOpinion(text, f"{data.get('msg') or args[0]}#new")


def shape_ok(action: str, args: tuple[int, ...]) -> bool:
    return action in ("c", "n") and len(args) == 1
