"""A sender as the bot already knows them, for channels whose button presses carry only an id
(DingTalk card callbacks): the names stored from their last message, so a press does not
overwrite them with nothing."""

from __future__ import annotations

from domain.channels import Channel, Sender
from services.kernel.context import ServiceContext
from services.kernel.people import find_identity


async def known_sender(ctx: ServiceContext, channel: Channel, external_id: str) -> Sender:
    async with ctx.sessions() as s:
        identity = await find_identity(s, channel, external_id)
    if identity is None:
        return Sender(channel, external_id)
    return Sender(
        channel,
        external_id,
        first_name=identity.first_name or "",
        last_name=identity.last_name,
        username=identity.username,
    )
