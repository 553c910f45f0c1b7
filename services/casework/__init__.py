"""Casework: set-up, triage, assignment (交办), the assignee's steps, ratings and reopening.

One module per use case; `CaseworkService` is the face handlers and tests call.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address, Sender
from domain.message import Message
from domain.states import UnitKind
from services.casework import (
    calls,
    comments,
    configure,
    extensions,
    lists,
    prompts,
    ratings,
    record,
    setup,
    tasks,
    triage,
)
from services.kernel.context import ServiceContext
from services.kernel.people import Person
from services.kernel.results import ActionResult

__all__ = ["CaseworkService"]


class CaseworkService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def bind_staff_chat(self, sender: Sender, chat: Address, code: str | None) -> Message:
        return await setup.bind_staff_chat(self.ctx, sender, chat, code)

    async def add_staff(
        self, sender: Sender, target_id: str | int | None, target_name: str | None
    ) -> Message:
        target = None if target_id is None else str(target_id)
        return await setup.add_staff(self.ctx, sender, target, target_name)

    async def create_invite(
        self, sender: Sender, unit_name: str | None, note: str | None
    ) -> Message:
        return await setup.create_invite(self.ctx, sender, unit_name, note)

    async def join(self, sender: Sender, code: str) -> Message:
        return await setup.join(self.ctx, sender, code)

    async def add_unit(self, sender: Sender, kind: UnitKind | str, name: str) -> Message:
        return await setup.add_unit(self.ctx, sender, UnitKind(kind), name)

    async def duty(self, sender: Sender, raw: str) -> Message:
        """`/duty [单位 事项、事项]`: the station's 权责清单, or a unit's matters added to it."""
        from services.casework.duties import duty_command

        return await duty_command(self.ctx, sender, raw)

    async def list_units(self, sender: Sender) -> Message:
        return await setup.list_units(self.ctx, sender)

    async def bind_unit_chat(self, sender: Sender, chat: Address, name: str) -> Message:
        return await setup.bind_unit_chat(self.ctx, sender, chat, name)

    async def triage_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ActionResult:
        return await triage.triage_press(self.ctx, sender, action, args)

    async def task_button(self, sender: Sender, action: str, args: tuple[int, ...]) -> ActionResult:
        return await tasks.task_press(self.ctx, sender, action, args)

    async def extension_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ActionResult:
        return await extensions.extension_press(self.ctx, sender, action, args)

    async def rating_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ActionResult:
        return await ratings.rating_press(self.ctx, sender, action, args)

    async def call_button(self, sender: Sender, action: str, args: tuple[int, ...]) -> ActionResult:
        return await calls.call_press(self.ctx, sender, action, args)

    async def call_list(self, sender: Sender) -> Message:
        return await calls.call_list(self.ctx, sender)

    async def record(self, sender: Sender, rest: str) -> Message:
        """代录: `/record 姓名 [电话] 内容`."""
        return await record.record(self.ctx, sender, rest)

    async def claim(self, sender: Sender, ref: str, code: str) -> Message:
        return await record.claim(self.ctx, sender, ref, code)

    async def comment_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> tuple[ActionResult, comments.NewOpinion | None]:
        """A comment in doubt: the resident says whether it was one, or a new opinion."""
        return await comments.comment_choice(self.ctx, sender, action, args)

    async def settings(self, sender: Sender, args: list[str]) -> Message:
        """`/settings`: the station's casework policy, shown or changed by staff."""
        return await configure.settings(self.ctx, sender, args)

    async def expire_ratings(self) -> int:
        return await ratings.expire_ratings(self.ctx)

    async def my_tasks(self, sender: Sender) -> Message:
        return await lists.my_tasks(self.ctx, sender)

    async def pending_text(
        self, sender: Sender, chat: Address, message_id: str, text: str
    ) -> Message | None:
        return await prompts.pending_text(self.ctx, sender, chat, message_id, text)

    async def answer_prompt(
        self, s: AsyncSession, person: Person, chat: Address, message_id: str, text: str
    ) -> Message | None:
        """Intake's PromptHook: typed answers are checked before a text becomes an opinion."""
        return await prompts.answer_prompt(s, self.ctx, person, chat, message_id, text)
