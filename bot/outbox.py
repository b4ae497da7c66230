"""Delivers the outbox: claim due items, send through the channel's notifier, record the outcome.

Retries back off exponentially with jitter, capped (or wait as long as the platform's
``retry_after`` asks), for a horizon of hours (default 24 h): a platform outage of minutes
or hours loses nothing. Only then is an item ``dead`` (the console's /admin/deliveries and
/metrics show it). Urgent items (safety advice, urgent task cards) are claimed first and
retried fastest; one that keeps failing for a worker also goes through the worker's next
reachable channel. A resident's items wait for them: writing again makes them due at once
(handlers.service). A recipient's messages go out in order (an item waits while an earlier
one for the same recipient is pending), and a claim lease means two dispatchers (two app
processes) never send the same item at once; the platform's message id is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import timedelta

from bot.escalation import relay_to_supervisor
from handlers.ports import Clock, DeliveryResult, Notifier, Recipient
from handlers.privacy import mask_id
from handlers.service import outbound_from_dict
from storage.interfaces import Store
from storage.models import Outbox

log = logging.getLogger("minhu.outbox")


def backoff_seconds(attempts: int, *, base: float = 5.0, cap: float = 600.0) -> float:
    """5 s, 10 s, 20 s … capped (10 min), with ±20 % jitter so retries don't stampede."""
    delay: float = min(cap, base * 2 ** min(30, max(0, attempts - 1)))
    return delay * random.uniform(0.8, 1.2)


URGENT_BASE_SECONDS = 1.0


class OutboxDispatcher:
    """The background loop that empties the outbox."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        batch: int = 20,
        lease_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        horizon_seconds: float = 24 * 3600.0,
        max_backoff_seconds: float = 600.0,
        urgent_fallback_after: int = 3,
        send_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.horizon_seconds = horizon_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.urgent_fallback_after = urgent_fallback_after
        self.send_timeout = send_timeout
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Wake the loop now (called after a commit that queued messages)."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            # clear before sweeping: a kick that lands during the sweep must not be lost
            self._wake.clear()
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sweep failed; retrying after the poll interval")
                sent = 0
            if sent:
                continue
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the event being set, and shutdown would then wait forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """Claim and attempt one batch; returns how many items were attempted."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            items = await uow.outbox.claim_due(
                now, limit=self.batch, lease_seconds=self.lease_seconds
            )
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: Outbox) -> None:
        if item.id is None:
            return
        notifier = self.notifiers.get(item.channel)
        if notifier is None:
            await self._dead(item, f"no notifier for channel {item.channel!r}", reason="refused")
            return
        message = outbound_from_dict(item.payload)
        try:
            async with asyncio.timeout(self.send_timeout):
                result = await notifier.send(
                    Recipient(item.channel, item.recipient), message, key=f"outbox:{item.id}"
                )
        except TimeoutError:
            result = DeliveryResult(ok=False, retry=True, detail="send timed out")
        except Exception as e:  # a notifier must not raise; treat it as transient and log it
            log.exception("notifier %s raised", item.channel)
            result = DeliveryResult(ok=False, retry=True, detail=f"{type(e).__name__}: {e}")
        await self._record(item, result)

    async def _record(self, item: Outbox, result: DeliveryResult) -> None:
        item_id = item.id or 0
        now = self.clock.now()
        if result.ok:
            async with self.store.unit() as uow:
                await uow.outbox.mark_sent(
                    item_id,
                    item.claim_token,
                    now=now,
                    platform_message_id=result.platform_message_id or "",
                )
            return
        if result.unreachable:
            log.warning(
                "recipient unreachable channel=%s user=%s: %s",
                item.channel,
                mask_id(item.recipient),
                result.detail,
            )
            reason = "window" if result.until_they_write else "unreachable"
            async with self.store.unit() as uow:
                await uow.outbox.mark_dead(
                    item_id, item.claim_token, error=result.detail, reason=reason
                )
                await uow.registry.set_reachable(item.channel, item.recipient, False)
                if item.worker_id is not None:
                    # a worker has other channels: fall back to the next reachable one
                    for ident in await uow.registry.worker_identities(item.worker_id):
                        if ident.reachable and (ident.channel, ident.user_id) != (
                            item.channel,
                            item.recipient,
                        ):
                            await uow.outbox.enqueue(
                                ident.channel,
                                ident.user_id,
                                item.payload,
                                now=now,
                                ticket_id=item.ticket_id,
                                worker_id=item.worker_id,
                            )
                            break
                    else:  # none left: a supervisor gets it rather than nobody
                        await relay_to_supervisor(uow, item, now)
            self.kick()
            return
        attempts = item.attempts + 1
        age = (now - item.created_at).total_seconds()
        if not result.retry:
            await self._dead(item, result.detail or "refused", reason="refused")
            return
        if age >= self.horizon_seconds:
            await self._dead(item, result.detail or "gave up", reason="gave_up")
            return
        if result.retry_after is not None:
            delay = max(0.0, result.retry_after)  # the platform knows when it takes more
        else:
            base = URGENT_BASE_SECONDS if item.priority > 0 else 5.0
            delay = backoff_seconds(attempts, base=base, cap=self.max_backoff_seconds)
        # the last try falls on the horizon, not a backoff past it
        delay = min(delay, max(0.0, self.horizon_seconds - age))
        if (
            item.priority > 0
            and item.worker_id is not None
            and attempts >= self.urgent_fallback_after
            and await self._reroute(item, result.detail)
        ):
            return
        log.info(
            "delivery retry channel=%s user=%s attempt=%d in %.0fs: %s",
            item.channel,
            mask_id(item.recipient),
            attempts,
            delay,
            result.detail,
        )
        async with self.store.unit() as uow:
            await uow.outbox.mark_retry(
                item_id,
                item.claim_token,
                error=result.detail,
                next_try_at=now + timedelta(seconds=delay),
            )

    async def _reroute(self, item: Outbox, error: str) -> bool:
        """An urgent worker item that keeps failing goes through the worker's next channel."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            for ident in await uow.registry.worker_identities(item.worker_id or 0):
                if not ident.reachable or (ident.channel, ident.user_id) == (
                    item.channel,
                    item.recipient,
                ):
                    continue
                if ident.channel not in self.notifiers:
                    continue
                await uow.recovery.enqueue_once(
                    ident.channel,
                    ident.user_id,
                    item.payload,
                    now=now,
                    key=f"reroute:{item.id}",
                    priority=item.priority,
                )
                await uow.outbox.mark_dead(
                    item.id or 0,
                    item.claim_token,
                    error=f"{error}; sent through {ident.channel} instead",
                    status="rerouted",
                )
                log.warning(
                    "urgent delivery rerouted worker=%s %s→%s after %d attempts: %s",
                    item.worker_id,
                    item.channel,
                    ident.channel,
                    item.attempts + 1,
                    error,
                )
                break
            else:
                return False
        self.kick()
        return True

    async def _dead(self, item: Outbox, error: str, *, reason: str) -> None:
        log.error(
            "delivery abandoned channel=%s user=%s after %d attempts: %s",
            item.channel,
            mask_id(item.recipient),
            item.attempts + 1,
            error,
        )
        async with self.store.unit() as uow:
            await uow.outbox.mark_dead(item.id or 0, item.claim_token, error=error, reason=reason)
