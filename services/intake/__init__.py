"""Resident intake: an opinion in, a numbered and themed receipt out, staff told via the outbox.

One module per use case (text, media, edits, receipt actions, lists); `IntakeService` is the
face handlers and tests call.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.channels import Address, Sender
from domain.message import Message, Rich
from services.intake import common, edits, lists, media, receipt, text
from services.intake.common import PromptHook
from services.intake.detail import Media
from services.intake.text import NewOpinion, Source, opinion_row
from services.kernel.context import ServiceContext

__all__ = ["IntakeService", "Media", "NewOpinion", "Source", "opinion_row"]


class IntakeService:
    def __init__(self, ctx: ServiceContext, prompts: PromptHook | None = None) -> None:
        self.ctx = ctx
        self.prompts = prompts

    async def start(
        self, sender: Sender, code: str | None, welcome: Callable[[str], Rich] | None = None
    ) -> Message:
        if welcome is None:
            return await lists.start(self.ctx, sender, code)
        return await lists.start(self.ctx, sender, code, welcome)

    async def submit_text(
        self,
        sender: Sender,
        chat: Address,
        message_id: str,
        body: str,
        forwarded_from: str | None = None,
    ) -> Message:
        src = Source(chat, message_id, forwarded_from)
        return await text.submit_text(self.ctx, self.prompts, sender, src, body)

    async def submit_media(
        self, sender: Sender, chat: Address, message_id: str, item: Media
    ) -> Message:
        return await media.submit_media(self.ctx, sender, Source(chat, message_id), item)

    async def edit(
        self, sender: Sender, chat: Address, message_id: str, new_text: str, edit_date: int
    ) -> Message | None:
        return await edits.edit(self.ctx, sender, chat, message_id, new_text, edit_date)

    async def ask_detail(self, sender: Sender, opinion_id: int) -> Message | None:
        return await receipt.ask_detail(self.ctx, sender, opinion_id)

    async def set_anonymous(self, sender: Sender, opinion_id: int, anonymous: bool) -> receipt.Pair:
        return await receipt.set_anonymous(self.ctx, sender, opinion_id, anonymous)

    async def withdraw(self, sender: Sender, opinion_id: int) -> receipt.Pair:
        return await receipt.withdraw(self.ctx, sender, opinion_id)

    async def my_list(self, sender: Sender, page: int) -> Message:
        return await lists.my_list(self.ctx, sender, page)

    async def saved(self, chat: Address, message_id: str) -> bool:
        """Whether this message is stored (as an opinion, an attachment or a consumed answer)."""
        return await common.is_stored(self.ctx, chat, message_id)

    async def status(self, sender: Sender, raw_ref: str) -> Message:
        return await lists.status(self.ctx, sender, raw_ref)
