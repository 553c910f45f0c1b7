"""A chat that answers 429: its other rows in the batch wait as long, unsent (the bulk bot no
longer has PTB's rate limiter waiting inside the send), and are sent after it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from domain.channels import Address, Channel
from domain.clock import ManualClock
from domain.message import Message, Rich
from domain.states import MessageKind
from scheduler.delivery import ChannelLimits, Delivered, DeliveryResult, Retry
from scheduler.dispatcher import Dispatcher
from services.kernel import outbox
from services.kernel.context import ServiceContext
from storage.models import Outbox

GROUP = Address(Channel.TELEGRAM, "-77")
FAST = ChannelLimits(overall_per_second=1000.0, group_per_minute=1000, private_per_second=1000)


class Refusing:
    """A channel whose first answer is 429 (retry after 30 s)."""

    channel = Channel.TELEGRAM
    buttons = True
    limits = FAST

    def __init__(self) -> None:
        self.calls: list[str] = []

    def is_group(self, to: Address) -> bool:
        return to.id.startswith("-")

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        self.calls.append(message.text.plain)
        if len(self.calls) == 1:
            return Retry(30.0, "429 retry after 30")
        return Delivered(str(len(self.calls)))


async def test_a_429_holds_back_the_chat_s_other_rows(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    async with ctx.sessions.begin() as s:
        for n in range(2):
            await outbox.enqueue(
                s,
                key=f"notice:{n}",
                to=GROUP,
                message=Message(Rich.plain_text(f"通知{n}")),
                kind=MessageKind.NOTICE,
                due_at=clock.now(),
            )
    channel = Refusing()
    dispatcher = Dispatcher(ctx, [channel])
    assert await dispatcher.drain_once() == 2
    assert channel.calls == ["通知0"]  # the second row was not sent into the 429
    async with ctx.sessions() as s:
        due = sorted((await s.execute(select(Outbox.due_at, Outbox.status))).all())
    assert [status for _, status in due] == ["pending", "pending"]
    assert all(at >= clock.now() + timedelta(seconds=30) for at, _ in due)
    clock.advance(timedelta(seconds=31))
    await dispatcher.tick()
    assert channel.calls == ["通知0", "通知0", "通知1"]
