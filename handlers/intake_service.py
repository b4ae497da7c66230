"""Storing arrivals in batches: one INSERT for the messages that arrive together.

Every message is stored before it is answered (nothing a resident sent is lost). Under a
burst that rule made each arrival pay its own transaction — an INSERT, the welcome-back
UPDATE and a COMMIT, with their round trips and SQLAlchemy's per-statement work — before it
could be answered at all. Here arrivals that come while a batch is being written wait for the
next one: one transaction stores all of them (`InboundRepository.record_many`), and each caller
still gets its answer only after that commit. A message arriving when nothing is being written
waits at most ``window_seconds`` for company.

```mermaid
sequenceDiagram
    participant A as arrivals
    participant B as InboundBatcher
    participant DB as store (one transaction)
    A->>B: record(message) … record(message)
    B->>DB: INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING; welcome back; COMMIT
    B-->>A: (row, new) each, after the commit
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from handlers.ports import Clock
from storage.errors import StorageError, StorageUnavailable
from storage.interfaces import NewInbound, Store
from storage.models import InboundMessage


@dataclass(frozen=True, slots=True)
class Recorded:
    """A message as stored: its row and whether this call stored it (False: seen before)."""

    row: InboundMessage
    new: bool


class InboundBatcher:
    """Writes the inbound messages of a process in batches, each caller awaiting its commit.

    Args:
        store: units of work over the database.
        clock: the time source (``received_at``).
        on_outbox: called after a commit that made waiting outbox items due (welcome back).
        window_seconds: how long a message arriving when nothing is being written waits for
            others (0: it is written at once; arrivals during that write form the next batch).
        max_rows: at most this many messages per INSERT.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        on_outbox: Callable[[], None] | None = None,
        window_seconds: float = 0.005,
        max_rows: int = 64,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.store = store
        self.clock = clock
        self.window_seconds = window_seconds
        self.max_rows = max_rows
        self._on_outbox = on_outbox or (lambda: None)
        self._pending: list[tuple[NewInbound, asyncio.Future[Recorded]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (the tests' and the metrics' view)

    async def record(self, message: NewInbound) -> Recorded:
        """Store ``message`` (unless its key exists) and return once it is committed.

        Raises:
            StorageUnavailable: the database is unreachable (the caller journals it).
            StorageError: the message could not be stored.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Recorded] = loop.create_future()
        future.add_done_callback(_observe)
        if self._writer is not None and self._writer.get_loop() is not loop:
            # a new event loop (a CLI command after another): whatever waited on the old one
            # was abandoned with it
            self._pending = [(m, f) for m, f in self._pending if f.get_loop() is loop]
            self._writer = None
        self._pending.append((message, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="inbound-batcher")
        # a caller that gives up does not stop the batch: the message is stored all the same
        # (its row waits as "received" and the recovery loop processes it)
        return await asyncio.shield(future)

    async def _write(self) -> None:
        """Write batches until nothing waits; only one writer per process at a time."""
        if self.window_seconds > 0 and len(self._pending) < self.max_rows:
            await asyncio.sleep(self.window_seconds)
        while self._pending:
            batch = self._pending[: self.max_rows]
            del self._pending[: self.max_rows]
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[NewInbound, asyncio.Future[Recorded]]]) -> None:
        try:
            results, woke = await self._store([m for m, _ in batch])
        except StorageUnavailable as e:
            for _, future in batch:  # each caller falls back (the journal) by itself
                _settle(future, error=e)
            return
        except StorageError as e:
            if len(batch) == 1:
                _settle(batch[0][1], error=e)
                return
            # one message the database refuses must not cost the others theirs: one by one
            for item in batch:
                await self._flush([item])
            return
        except asyncio.CancelledError:  # shut down mid-write: no caller waits forever
            for _, future in batch:
                future.cancel()
            raise
        except Exception as e:  # a bug: each caller answers with its error boundary
            for _, future in batch:
                _settle(future, error=e)
            return
        self.batches += 1
        if woke:
            self._on_outbox()
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _store(self, messages: list[NewInbound]) -> tuple[list[Recorded], bool]:
        async with self.store.unit() as uow:
            now = self.clock.now()
            rows = await uow.inbound.record_many(messages, now=now)
            senders = [(row.channel, row.user_id) for row, new in rows if new]
            # they wrote, so the channel reaches them again: what waited for them goes now
            woken = await uow.recovery.welcome_back_many(senders, now) if senders else 0
            if woken:
                uow.queued += woken
            woke = uow.queued > 0
        return [Recorded(row, new) for row, new in rows], woke


def _observe(future: asyncio.Future[Recorded]) -> None:
    # the error reaches the caller through the shield; one who gave up leaves it unread
    if not future.cancelled():
        future.exception()


def _settle(
    future: asyncio.Future[Recorded],
    *,
    result: Recorded | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    elif result is not None:
        future.set_result(result)
