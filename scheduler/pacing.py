"""Per-chat send pacing: Telegram allows about 20 messages a minute in a group and 1 a second in a
private chat. The dispatcher waits here *before* it sends, while it still holds the row's lease,
so a long wait never runs past the lease (which would let another instance send the row too).
Only send timestamps live here: losing them on restart at worst costs one 429, handled as a retry.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


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
        self._sent: dict[int, deque[float]] = {}
        self._next_slot = 0.0

    async def overall_slot(self) -> None:
        """Wait until this process may send its next bulk message, then take that moment.

        Spacing is measured between actual sends (checked after every wake-up, with no await
        in between), so a stalled event loop delays messages but never bunches them up past
        Telegram's window.
        """
        while True:
            now = self.clock()
            wait = self._next_slot - now
            if wait <= 0:
                self._next_slot = now + self.spacing
                return
            await asyncio.sleep(wait)

    def _window(self, chat_id: int) -> tuple[int, float]:
        return self.private if chat_id > 0 else self.group

    def delay(self, chat_id: int) -> float:
        """Seconds until one more message to `chat_id` fits in its window."""
        limit, span = self._window(chat_id)
        times = self._sent.get(chat_id)
        if not times:
            return 0.0
        now = self.clock()
        while times and times[0] <= now - span:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + span - now

    def record(self, chat_id: int) -> None:
        self._sent.setdefault(chat_id, deque()).append(self.clock())
        if len(self._sent) > 5000:  # forget idle chats
            now = self.clock()
            for key in [k for k, v in self._sent.items() if not v or v[-1] < now - 60]:
                del self._sent[key]
