"""The one way in for every channel: an incoming text, file, edit or action goes here.

Adapters turn their platform's update into an `Inbound` and call `Router.text`, `.media`,
`.edit`, `.press` or (channels without buttons) let `.text` resolve a bare number to the last
question asked in the chat. What comes back is channel-neutral; the adapter renders and sends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

import texts.common as ct
import texts.resident as rt
from domain.channels import Address, Sender
from domain.message import FileRef, Message, Rich
from domain.text import storable
from services.casework import CaseworkService, calls, comments, extensions, tasks, triage
from services.casework.prompts import earlier_reply
from services.inbound.commands import COMMANDS, GROUP_HINT, Call, Where, parse
from services.inbound.types import Inbound, Outcome
from services.intake import IntakeService, Media
from services.kernel import chats, questions
from services.kernel.actions import Forged, Press
from services.kernel.context import ServiceContext
from services.kernel.results import ActionResult, refused
from services.ledger import LedgerService
from services.meetings import MeetingService
from services.reports import ReportsService
from storage.models import InboundMessage

PressHandler = Callable[[Inbound, Press], Awaitable[ActionResult]]


@dataclass
class Router:
    ctx: ServiceContext
    intake: IntakeService
    casework: CaseworkService
    meetings: MeetingService
    reports: ReportsService
    ledger: LedgerService

    @classmethod
    def build(cls, ctx: ServiceContext) -> Router:
        casework = CaseworkService(ctx)
        return cls(
            ctx,
            IntakeService(ctx, prompts=casework.answer_prompt),
            casework,
            MeetingService(ctx, ctx.calendar),
            ReportsService(ctx, ctx.calendar),
            LedgerService(ctx),
        )

    @staticmethod
    def chart(data: bytes | None) -> Message | None:
        return None if data is None else Message(file=FileRef("image", "chart.png"), data=data)

    # ---- text ----------------------------------------------------------------------------
    async def text(self, inbound: Inbound, text: str) -> Outcome:
        inbound, text = clean(inbound), storable(text)
        call = parse(inbound, text)
        if call is not None:
            return await self._command(inbound, call.name, call)
        if not inbound.buttons:
            number = questions.choice_number(text)
            if number is not None:
                return await self.choice(inbound, number)
        if inbound.is_group:
            if not inbound.addressed:
                return Outcome()
            reply = await self.casework.pending_text(
                inbound.sender, inbound.chat, inbound.message_id, text
            )
            return Outcome.of(reply)
        reply = await self.intake.submit_text(
            inbound.sender, inbound.chat, inbound.message_id, text, inbound.forwarded_from
        )
        return Outcome.of(reply)

    async def _command(self, inbound: Inbound, name: str, call: Call) -> Outcome:
        entry = COMMANDS.get(name)
        if entry is None:
            return Outcome() if inbound.is_group else Outcome.of(Message(rt.unknown_command()))
        where, handler = entry
        if where is Where.PRIVATE and inbound.is_group:
            return Outcome.of(Message(rt.group_hint())) if name in GROUP_HINT else Outcome()
        return await handler(self, inbound, call)

    # ---- files and edits --------------------------------------------------------------------
    async def media(self, inbound: Inbound, item: Media) -> Outcome:
        if inbound.is_group:
            return Outcome()
        inbound = clean(inbound)
        if item.caption is not None:
            item = replace(item, caption=storable(item.caption))
        reply = await self.intake.submit_media(
            inbound.sender, inbound.chat, inbound.message_id, item
        )
        return Outcome.of(reply)

    async def edit(self, inbound: Inbound, new_text: str, edit_date: int) -> Outcome:
        if inbound.is_group:
            return Outcome()
        inbound, new_text = clean(inbound), storable(new_text)
        reply = await self.intake.edit(
            inbound.sender, inbound.chat, inbound.message_id, new_text, edit_date
        )
        return Outcome.of(reply)

    # ---- chats that change ------------------------------------------------------------------
    async def chat_moved(self, old: Address, new: Address) -> None:
        """The platform says a chat has a new address (a group upgraded to a supergroup)."""
        await chats.moved(self.ctx, old, new)

    async def chat_left(self, chat: Address) -> None:
        """The bot was removed from (or left) a group chat."""
        await chats.lost(self.ctx, chat)

    # ---- actions ----------------------------------------------------------------------------
    async def press(self, inbound: Inbound, payload: str | None) -> ActionResult:
        """A button press (or a numbered reply): verified, then routed by scope."""
        inbound = clean(inbound)
        decoded = self.ctx.actions.decode(payload, self.ctx.clock.now())
        if decoded is None:
            return refused(ct.BUTTON_EXPIRED)
        if isinstance(decoded, Forged):
            # Not ours. Named like a real action: refused as not allowed, as a forged press on
            # someone else's card always was; otherwise it is just an unknown button.
            known = _known(decoded.press)
            return refused(ct.NOT_ALLOWED if known else ct.BUTTON_EXPIRED)
        handler = PRESSES.get(decoded.scope)
        if handler is None or not _known(decoded):
            return refused(ct.BUTTON_EXPIRED)
        return await handler(self, inbound, decoded)

    async def choice(self, inbound: Inbound, number: int) -> Outcome:
        """A bare number on a channel without buttons: the press it names, run as a press."""
        async with self.ctx.sessions.begin() as s:
            earlier = await _earlier(s, inbound)
            if earlier is not None:
                return Outcome.of(earlier)
            found = await questions.resolve(s, inbound.chat, number, inbound.sent_at)
        if isinstance(found, questions.Outdated):
            return Outcome.of(Message(Rich.plain_text(ct.QUESTION_CHANGED)))
        if isinstance(found, questions.NoSuchChoice):
            return Outcome.of(Message(Rich.plain_text(ct.NO_QUESTION)))
        result = await self.press(inbound, found.payload)
        messages = as_messages(result)
        async with self.ctx.sessions.begin() as s:
            s.add(
                InboundMessage(
                    channel=inbound.chat.channel.value,
                    chat_id=inbound.chat.id,
                    message_id=inbound.message_id,
                    kind="choice",
                    reply=messages[0].to_json() if messages else None,
                    at=self.ctx.clock.now(),
                )
            )
        return Outcome(messages)


async def _earlier(s: AsyncSession, inbound: Inbound) -> Message | None:
    return await earlier_reply(s, inbound.chat, inbound.message_id)


def _clean_sender(who: Sender) -> Sender:
    return replace(
        who,
        first_name=storable(who.first_name),
        last_name=storable(who.last_name) if who.last_name else who.last_name,
        username=storable(who.username) if who.username else who.username,
    )


def clean(inbound: Inbound) -> Inbound:
    """Names and ids from a platform, storable (no NUL, no lone surrogates)."""
    return replace(
        inbound,
        sender=_clean_sender(inbound.sender),
        reply_to=_clean_sender(inbound.reply_to) if inbound.reply_to else None,
        forwarded_from=storable(inbound.forwarded_from) if inbound.forwarded_from else None,
    )


def as_messages(result: ActionResult) -> list[Message]:
    """A press's result on a channel that cannot edit messages or show toasts: new messages.

    The edited message is sent anew (when only its choices changed, they are sent under the
    toast or "请选择："); the prompt follows; a bare toast (a refusal) is sent as text.
    """
    out: list[Message] = []
    edit = result.edit
    if edit is not None:
        if edit.text:
            out.append(edit)
        elif edit.actions:
            head = result.toast or ct.CHOOSE
            out.append(Message(Rich.plain_text(head), edit.actions))
    if result.prompt is not None:
        out.append(result.prompt)
    if not out and result.toast:
        out.append(Message(Rich.plain_text(result.toast)))
    return out


# ---- presses by scope ---------------------------------------------------------------------------


async def _opinion(r: Router, i: Inbound, p: Press) -> ActionResult:
    """Receipt actions: o:d:<id> detail, o:a:<id>:<0|1> anonymity, o:w:<id> withdraw."""
    opinion_id = p.args[0]
    if p.action == "d":
        reply = await r.intake.ask_detail(i.sender, opinion_id)
        return refused(ct.NOT_ALLOWED) if reply is None else ActionResult(prompt=reply)
    if p.action == "a":
        pair = await r.intake.set_anonymous(i.sender, opinion_id, bool(p.args[1]))
    else:
        pair = await r.intake.withdraw(i.sender, opinion_id)
    if pair is None:
        return refused(ct.NOT_ALLOWED)
    note, redrawn = pair
    return ActionResult(edit=redrawn, prompt=note, private=True)


async def _page(r: Router, i: Inbound, p: Press) -> ActionResult:
    return ActionResult(edit=await r.intake.my_list(i.sender, p.args[0]))


async def _triage(r: Router, i: Inbound, p: Press) -> ActionResult:
    return await r.casework.triage_button(i.sender, p.action, p.args)


async def _task(r: Router, i: Inbound, p: Press) -> ActionResult:
    return await r.casework.task_button(i.sender, p.action, p.args)


async def _extension(r: Router, i: Inbound, p: Press) -> ActionResult:
    return await r.casework.extension_button(i.sender, p.action, p.args)


async def _rating(r: Router, i: Inbound, p: Press) -> ActionResult:
    return await r.casework.rating_button(i.sender, p.action, p.args)


async def _comment(r: Router, i: Inbound, p: Press) -> ActionResult:
    """rc:c / rc:n: a text after a rating was a comment, or a new opinion (then intake's)."""
    result, new = await r.casework.comment_button(i.sender, p.action, p.args)
    if new is None:
        return result
    receipt = await r.intake.submit_text(i.sender, i.chat, new.message_id, new.text, None)
    return ActionResult(edit=receipt)


async def _call(r: Router, i: Inbound, p: Press) -> ActionResult:
    return await r.casework.call_button(i.sender, p.action, p.args)


PRESSES: dict[str, Callable[[Router, Inbound, Press], Awaitable[ActionResult]]] = {
    "cl": _call,
    "rc": _comment,
    "o": _opinion,
    "my": _page,
    "t": _triage,
    "k": _task,
    "x": _extension,
    "r": _rating,
}


def _known(p: Press) -> bool:
    """Whether a press names an action that exists, with the right number of arguments."""
    if p.scope == "o":
        shapes = {("d", 1), ("w", 1)}
        return (p.action, len(p.args)) in shapes or (
            p.action == "a" and len(p.args) == 2 and p.args[1] in (0, 1)
        )
    if p.scope == "my":
        return p.action == "p" and len(p.args) == 1
    if p.scope == "t":
        return triage.shape_ok(p.action, p.args)
    if p.scope == "k":
        return tasks.shape_ok(p.action, p.args)
    if p.scope == "x":
        return extensions.shape_ok(p.action, p.args)
    if p.scope == "r":
        return p.action == "v" and len(p.args) == 2
    if p.scope == "cl":
        return calls.shape_ok(p.action, p.args)
    if p.scope == "rc":
        return comments.shape_ok(p.action, p.args)
    return False


__all__ = ["Router", "as_messages"]
