"""Send-rate limits shared by every process through the SessionStore (Redis when configured).

Telegram allows about one message per second in a chat and about thirty per second overall;
beyond that it answers 429. This limiter keeps us under both before Telegram has to say so:

* per recipient: a claim on ``<ns>chat:<id>`` that lives ``recipient_interval`` seconds -- at
  most one send per interval per chat, measured from the previous send, not a calendar second;
* overall: ``per_second`` numbered slot claims per calendar second (``<ns>all:<second>:<k>``).

With the in-process store the limits hold per process; with Redis they hold across all
processes sharing it. Claims are SET NX with a TTL, so a crashed sender leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from storage.interfaces import SessionStore


class SendRateLimiter:
    """Waits for a free send slot for a recipient.

    Args:
        sessions: the shared state store (its ``claim`` is the primitive).
        namespace: key prefix, e.g. ``"telegram:rate:"``.
        per_second: sends allowed per calendar second across all recipients.
        recipient_interval: whole seconds between two sends to one recipient (0: no spacing,
            for tests against a local fake API).
        clock: wall-clock seconds (injected in tests).
        poll_seconds: how often to look again while a recipient's interval runs.
    """

    def __init__(
        self,
        sessions: SessionStore,
        *,
        namespace: str,
        per_second: int,
        recipient_interval: int = 1,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 0.1,
    ) -> None:
        if per_second < 1 or recipient_interval < 0:
            raise ValueError("per_second must be at least 1 and recipient_interval at least 0")
        self.sessions = sessions
        self.namespace = namespace
        self.per_second = per_second
        self.recipient_interval = recipient_interval
        self.clock = clock
        self.poll_seconds = poll_seconds
        # where this process found the last free global slot, to skip known-taken ones
        self._hint: tuple[int, int] = (0, 0)

    async def acquire(self, recipient: str, *, max_wait: float) -> float:
        """Take a send slot for ``recipient``, waiting up to ``max_wait`` seconds for it.

        Returns:
            ``0.0`` once the slot is taken; otherwise the seconds after which trying again
            makes sense (nothing was taken and no more time was spent waiting).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, max_wait)
        while True:
            wait = await self.try_acquire(recipient)
            if wait <= 0:
                return 0.0
            if loop.time() + wait > deadline:
                return wait
            await asyncio.sleep(wait)

    async def try_acquire(self, recipient: str) -> float:
        """One attempt: ``0.0`` when the slot is taken, else seconds to wait before retrying."""
        now = self.clock()
        # the recipient first: a busy chat is the common case, and taking a global slot we
        # then could not use would waste throughput for everyone else
        if self.recipient_interval and not await self.sessions.claim(
            f"{self.namespace}chat:{recipient}", ttl_seconds=self.recipient_interval
        ):
            return self.poll_seconds
        second = int(now)
        start = self._hint[1] if self._hint[0] == second else 0
        for slot in range(start, self.per_second):
            if await self.sessions.claim(f"{self.namespace}all:{second}:{slot}", ttl_seconds=2):
                self._hint = (second, slot + 1)
                return 0.0
        self._hint = (second, self.per_second)
        # this second is full everywhere; the recipient claim we just took expires by itself
        return max(second + 1 - now, float(self.recipient_interval))
