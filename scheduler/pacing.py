"""Per-chat send pacing for one channel (Telegram: about 20 messages a minute in a group, 1 a
second in a private chat, 30 a second overall). The dispatcher waits here *before* it sends,
while it still holds the row's lease, so a long wait never runs past the lease (which would let
another instance send the row too). A group's window is seeded from the outbox (`seed`: its sends
by every dispatcher in the last minute) each time its rows are claimed, and only one dispatcher
at a time holds a chat's rows, so several dispatchers share each group's 20 a minute. The
overall rate is per process: with N dispatchers set BULK_RATE_PER_SECOND to about 28 / N.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from domain.channels import Address


class ChatPacer:
    def __init__(
        self,
        group_per_minute: int = 20,
        private_per_second: int = 1,
        overall_per_second: float = 28.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = (group_per_minute, 60.0)
        self.private = (private_per_second, 1.0)
        self.spacing = 1.0 / overall_per_second
        self.clock = clock
        self._sent: dict[Address, deque[float]] = {}
        self._next_slot = 0.0

    async def overall_slot(self) -> None:
        """Wait until this process may send its next message on the channel, then take it.

        Spacing is measured between actual sends (checked after every wake-up, with no await
        in between), so a stalled event loop delays messages but never bunches them up past
        the platform's window.
        """
        while True:
            now = self.clock()
            wait = self._next_slot - now
            if wait <= 0:
                self._next_slot = now + self.spacing
                return
            await asyncio.sleep(wait)

    def delay(self, chat: Address, is_group: bool) -> float:
        """Seconds until one more message to `chat` fits in its window."""
        limit, span = self.group if is_group else self.private
        times = self._sent.get(chat)
        if not times:
            return 0.0
        now = self.clock()
        while times and times[0] <= now - span:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + span - now

    def seed(self, chat: Address, ages: list[float]) -> None:
        """The chat's sends as the database knows them (seconds ago, by every dispatcher):
        they replace what this process remembers, which is only its own."""
        now = self.clock()
        self._sent[chat] = deque(sorted(now - age for age in ages))

    def record(self, chat: Address) -> None:
        self._sent.setdefault(chat, deque()).append(self.clock())
        if len(self._sent) > 5000:  # forget idle chats
            now = self.clock()
            for key in [k for k, v in self._sent.items() if not v or v[-1] < now - 60]:
                del self._sent[key]
