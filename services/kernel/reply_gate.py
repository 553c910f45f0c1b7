"""Answers to the person who just wrote, sent so that a crash can double at most one of them.

A platform like Telegram has no idempotency key: a message whose request reached it before the
process died cannot be told from one that did not, so an event handled again after a kill -9
re-sends every reply that was on its way and not yet recorded. `Replies` keeps that window
small: each message goes out under a per-process limit (`in_flight`, 1 by default) and is
recorded as sent (`Inbox.reply_sent`, its own small transaction) before the next one may go.
A kill then doubles at most `in_flight` messages.

The price is that replies of one process are sent one after the other: the other updates' work
(database, classifier) still overlaps, only the HTTP round trips do not. Against a distant
server (100 ms a round trip) that is 10 replies a second per process; raise REPLIES_IN_FLIGHT
there, accepting up to that many doubled messages per crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.kernel.inbox import Inbox

log = logging.getLogger(__name__)

T = TypeVar("T")


class Replies:
    """The per-process gate for the replies of inbox events (one per channel's inbox)."""

    def __init__(self, inbox: Inbox, in_flight: int = 1) -> None:
        self.inbox = inbox
        self._slots = asyncio.Semaphore(in_flight)

    def sent_before(self, key: str) -> int:
        """How many messages of this event's answer went out before it was handed back."""
        return self.inbox.replied.get(key, 0)

    async def send(
        self, key: str, index: int, send: Callable[[], Awaitable[T]], *, last: bool
    ) -> T | None:
        """Message `index` (from 0) of the answer to event `key`: sent unless it was already
        (None then), and recorded before the gate lets the next message go."""
        if index < self.sent_before(key):
            return None
        async with self._slots:
            result = await send()
            try:
                await self.inbox.reply_sent(key, index + 1, last=last)
            except Exception:  # sent, not recorded: handled again, it would be sent again
                log.exception("could not record reply %d to %s as sent", index + 1, key)
        return result
