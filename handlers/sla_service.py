"""The SLA sweeper (I/O): fires due clocks exactly once, with any number of processes sweeping.

One sweep:

1. claim a batch of due clocks for a lease (``ClockRepository.claim_due``: PostgreSQL hands
   concurrent claimers disjoint rows with ``FOR UPDATE SKIP LOCKED``; SQLite runs one writer
   at a time, so the single UPDATE that stamps the lease is atomic there too);
2. fire each in its own transaction: lock the ticket (the same order as a worker's move:
   ticket, then clocks — no deadlock), mark the clock fired *only if* it is still pending
   and still ours (the exactly-once guard), decide (``handlers.sla.decide``) and apply the
   effects — events, new clocks, outbox messages — then commit, all or nothing;
3. repeat until nothing due is left, so a backlog after downtime is caught up in one sweep.

A crash before a commit leaves the clock pending: its lease runs out and the next sweep (in
any process) fires it. A crash after the commit left nothing to redo. A clock whose firing
keeps failing is retried with a growing delay and finally marked ``failed`` for staff to see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from handlers.ports import Clock
from handlers.privacy import mask_text
from handlers.sla import ClockKind, decide
from handlers.ticket_service import Snapshot, TicketService
from storage.interfaces import Store
from storage.models import TicketClock

log = logging.getLogger("minhu.sla")

REMINDERS = (ClockKind.ACCEPT_REMIND.value, ClockKind.RESOLVE_REMIND.value)
STALE = "skipped: deadline passed before the reminder went out"


@dataclass(slots=True)
class SweepResult:
    """What one sweep did (logged, printed by ``minhu sla sweep`` and the benchmark)."""

    claimed: int = 0
    fired: int = 0  # fired with an effect (escalation, reminder, overdue notice, closing)
    skipped: int = 0  # fired, nothing to do any more (e.g. accepted meanwhile)
    lost: int = 0  # another process or a move got there first
    failed: int = 0  # raised; retried later


class SlaSweeper:
    """Claims due clocks and fires them through the ticket service.

    Args:
        store: units of work over the database.
        tickets: the ticket operations that carry out a clock's decision.
        clock: the time source (tests inject a fake one).
        batch: clocks claimed per round trip.
        lease_seconds: how long a claim holds before another process may take the clock.
        max_attempts: failed firings before a clock is marked ``failed``.
        retry_seconds: base delay before a failed clock is tried again (grows linearly).
    """

    def __init__(
        self,
        store: Store,
        tickets: TicketService,
        clock: Clock,
        *,
        batch: int = 100,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        retry_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.clock = clock
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds

    async def run_once(self) -> SweepResult:
        """Fire everything due now (in batches) and return what happened."""
        now = self.clock.now()
        result = SweepResult()
        snapshot: Snapshot | None = None
        while True:
            async with self.store.unit() as uow:
                claimed = await uow.clocks.claim_due(
                    now, limit=self.batch, lease_seconds=self.lease_seconds
                )
            if not claimed:
                break
            result.claimed += len(claimed)
            full = len(claimed) == self.batch
            claimed = await self._settle_stale_reminders(claimed, result)
            if snapshot is None:
                # grids and workers change rarely; one look per sweep, not one per clock
                async with self.store.unit() as uow:
                    snapshot = await self.tickets.snapshot(uow)
            for clock in claimed:
                try:
                    outcome = await self._fire(clock, snapshot)
                except Exception as e:
                    log.exception("clock %s (ticket %s) failed to fire", clock.id, clock.ticket_id)
                    await self._failed(clock, e)
                    result.failed += 1
                    continue
                if outcome is None:
                    result.lost += 1
                elif outcome.startswith("skipped"):
                    result.skipped += 1
                else:
                    result.fired += 1
            if not full:
                break
        if result.fired:
            self.tickets.kick()
        if result.claimed:
            log.info(
                "sla sweep: claimed=%d fired=%d skipped=%d lost=%d failed=%d",
                result.claimed,
                result.fired,
                result.skipped,
                result.lost,
                result.failed,
            )
        return result

    async def _settle_stale_reminders(
        self, claimed: list[TicketClock], result: SweepResult
    ) -> list[TicketClock]:
        """After downtime a reminder may be due after its own deadline: whatever the ticket's
        state, it has nothing left to say (``decide`` skips it). Settle those in one statement
        instead of one transaction each; the deadline clocks fire as usual."""
        now = self.clock.now()
        stale = [
            c for c in claimed if c.kind in REMINDERS and c.deadline_at and c.deadline_at <= now
        ]
        if not stale:
            return claimed
        async with self.store.unit() as uow:
            settled = set(
                await uow.clocks.settle_expired(
                    [c.id or 0 for c in stale],
                    stale[0].claim_token,
                    kinds=REMINDERS,
                    now=now,
                    outcome=STALE,
                )
            )
        result.skipped += len(settled)
        return [c for c in claimed if c.id not in settled]

    async def _fire(self, clock: TicketClock, snapshot: Snapshot | None) -> str | None:
        """Fire one claimed clock in one transaction; None when it is no longer ours."""
        async with self.store.unit() as uow:
            # the ticket's row lock first: a worker's move takes it before touching clocks
            await uow.tickets.lock(clock.ticket_id)
            fired = await uow.clocks.fire(clock.id or 0, clock.claim_token, now=self.clock.now())
            if fired is None:
                return None
            ticket = await uow.tickets.lock(clock.ticket_id)  # fresh, under the write lock
            if ticket is None:  # pragma: no cover - foreign key
                fired.outcome = "skipped: ticket vanished"
                await uow.clocks.save(fired)
                return fired.outcome
            decision = decide(
                fired.kind,
                level=fired.level,
                status=ticket.status,
                now=self.clock.now(),
                deadline_at=fired.deadline_at,
            )
            outcome = await self.tickets.on_clock(uow, ticket, fired, decision, snapshot)
            fired.outcome = mask_text(outcome)[:200]
            await uow.clocks.save(fired)
            return outcome

    async def _failed(self, clock: TicketClock, error: Exception) -> None:
        attempts = clock.attempts + 1
        give_up = attempts >= self.max_attempts
        retry_at = self.clock.now() + timedelta(seconds=self.retry_seconds * attempts)
        try:
            async with self.store.unit() as uow:
                await uow.clocks.retry(
                    clock.id or 0,
                    clock.claim_token,
                    error=f"{type(error).__name__}: {error}",
                    retry_at=retry_at,
                    give_up=give_up,
                )
        except Exception:
            # the lease still runs out, so the clock is not lost: it is tried again later
            log.exception("could not record the failure of clock %s", clock.id)
