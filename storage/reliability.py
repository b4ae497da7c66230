"""Recovery and delivery bookkeeping: leased inbound retries, once-only outbox items, dead letters.

``uow.recovery`` in a unit of work (storage/repositories.py wires it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChannelIdentity, InboundMessage, Outbox, Ticket
from storage.sql_common import insert_of, table_of

__all__ = ["TRANSIENT_DEATHS", "SqlRecovery"]

# dead letters a recipient's next message brings back (see Outbox.dead_reason)
TRANSIENT_DEATHS = ("gave_up", "window")


class SqlRecovery:
    """The queries behind the recovery loop, the outbox's once-only keys and the dead letters."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # --- inbound ------------------------------------------------------------------------------

    async def claim_inbound(
        self,
        now: datetime,
        *,
        stuck_before: datetime,
        limit: int,
        lease_seconds: float,
        max_attempts: int,
    ) -> list[InboundMessage]:
        """Lease the oldest messages that failed (and are due again) or stopped mid-way.

        A row is stuck when it is still ``received`` after ``stuck_before`` (its owner died,
        or the database went away between insert and processing). The lease keeps every
        other process off it; SKIP LOCKED hands concurrent recoverers disjoint rows.
        """
        t = table_of(InboundMessage)
        candidates = (
            sa.select(t.c.id)
            .where(
                t.c.attempts < max_attempts,
                sa.or_(
                    sa.and_(
                        t.c.status == "failed",
                        sa.or_(t.c.next_try_at.is_(None), t.c.next_try_at <= now),
                    ),
                    sa.and_(t.c.status == "received", t.c.received_at <= stuck_before),
                ),
                sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now),
            )
            .order_by(t.c.received_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(t)
            .where(t.c.id.in_(candidates.scalar_subquery()))
            .values(lease_until=now + timedelta(seconds=lease_seconds), attempts=t.c.attempts + 1)
            .returning(t.c.id)
        )
        ids = [row[0] for row in (await self.s.execute(stmt)).all()]
        if not ids:
            return []
        query = (
            select(InboundMessage)
            .where(col(InboundMessage.id).in_(ids))
            .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
            .execution_options(populate_existing=True)
        )
        return list((await self.s.exec(query)).all())

    async def mark_failed(
        self, inbound_id: int, *, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """Record a failure unless the message is done already; False when it was done.

        A turn that committed its effects is done, whatever fails afterwards (saving the
        conversation state, releasing the lock): marking it failed would run it again.
        """
        t = table_of(InboundMessage)
        stmt = (
            sa.update(t)
            .where(t.c.id == inbound_id, t.c.status != "done")
            .values(
                status="failed",
                processed_at=now,
                error=error[:2000],
                next_try_at=retry_at,
                lease_until=None,
            )
            .returning(t.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None

    async def release_inbound(self, inbound_id: int) -> None:
        t = table_of(InboundMessage)
        await self.s.execute(sa.update(t).where(t.c.id == inbound_id).values(lease_until=None))

    async def unfinished(self, *, limit: int = 1000) -> Sequence[InboundMessage]:
        """Messages not done, oldest first (the fault drills and the console read these)."""
        query = (
            select(InboundMessage)
            .where(col(InboundMessage.status) != "done")
            .order_by(col(InboundMessage.received_at))
            .limit(limit)
        )
        return list((await self.s.exec(query)).all())

    # --- tickets ------------------------------------------------------------------------------

    async def ticket_from(self, channel: str, message_id: str) -> Ticket | None:
        """The ticket a platform message filed, if it filed one."""
        if not message_id:
            return None
        query = select(Ticket).where(
            Ticket.channel == channel, Ticket.source_message_id == message_id
        )
        return (await self.s.exec(query)).first()

    # --- outbox -------------------------------------------------------------------------------

    async def enqueue_once(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        key: str,
        priority: int = 0,
    ) -> bool:
        """Queue an item unless one with this key was ever queued; True when queued now."""
        t = table_of(Outbox)
        stmt = (
            insert_of(self.s, t)
            .values(
                channel=channel,
                recipient=recipient,
                payload=payload,
                status="pending",
                attempts=0,
                next_try_at=now,
                claim_token="",
                last_error="",
                platform_message_id="",
                created_at=now,
                priority=priority,
                dedupe_key=key,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(t.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None

    async def welcome_back(self, channel: str, recipient: str, now: datetime) -> int:
        """They wrote, so the channel reaches them again: their identity is reachable, their
        waiting items are due now and those dead of a passing failure go out again (pending items
        due now, transient dead letters revived, and ``set_reachable``). One statement on PostgreSQL
        (an UPDATE of the identity in a WITH clause), two on SQLite; returns how many outbox
        items are due now.

        Runs for every new message, and there is almost never anything to change: a guard
        read first would cost the same round trip and could miss an item queued meanwhile.
        """
        return await self.welcome_back_many([(channel, recipient)], now)

    async def welcome_back_many(self, senders: Sequence[tuple[str, str]], now: datetime) -> int:
        """`welcome_back` for every (channel, recipient) at once: the same one statement (two on
        SQLite) for a batch of arrivals as for one."""
        pairs = sorted(set(senders))
        if not pairs:
            return 0
        ident = table_of(ChannelIdentity)
        t = table_of(Outbox)
        if len(pairs) == 1:
            ((channel, recipient),) = pairs
            who_ident = sa.and_(ident.c.channel == channel, ident.c.user_id == recipient)
            who_outbox = sa.and_(t.c.channel == channel, t.c.recipient == recipient)
        else:
            who_ident = sa.tuple_(ident.c.channel, ident.c.user_id).in_(pairs)
            who_outbox = sa.tuple_(t.c.channel, t.c.recipient).in_(pairs)
        reach = (
            sa.update(ident).where(who_ident, ident.c.reachable.is_not(True)).values(reachable=True)
        )
        dead = t.c.status == "dead"
        revive = (
            sa.update(t)
            .where(
                who_outbox,
                sa.or_(
                    sa.and_(t.c.status == "pending", t.c.next_try_at > now),
                    sa.and_(dead, t.c.dead_reason.in_(TRANSIENT_DEATHS)),
                ),
            )
            .values(
                status="pending",
                next_try_at=now,
                attempts=sa.case((dead, 0), else_=t.c.attempts),
                created_at=sa.case((dead, now), else_=t.c.created_at),
                dead_reason=sa.case((dead, ""), else_=t.c.dead_reason),
            )
        )
        if self.s.bind is not None and self.s.bind.dialect.name == "postgresql":
            revive = revive.add_cte(reach.returning(ident.c.id).cte("reach"))
        else:
            await self.s.execute(reach)
        return int(getattr(await self.s.execute(revive), "rowcount", 0) or 0)

    async def dead_letters(self, *, limit: int = 200) -> Sequence[Outbox]:
        query = (
            select(Outbox)
            .where(Outbox.status == "dead")
            .order_by(col(Outbox.id).desc())
            .limit(limit)
        )
        return list((await self.s.exec(query)).all())

    async def delivery_counts(self) -> dict[str, int]:
        """Outbox items per status (pending, sent, dead)."""
        t = table_of(Outbox)
        rows = await self.s.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status))
        return {str(status): int(n) for status, n in rows.all()}

    async def requeue(self, item_id: int, now: datetime) -> bool:
        """A dead letter sent again from the console."""
        t = table_of(Outbox)
        stmt = (
            sa.update(t)
            .where(t.c.id == item_id, t.c.status == "dead")
            .values(
                status="pending",
                next_try_at=now,
                attempts=0,
                created_at=now,
                last_error="",
                dead_reason="",
            )
            .returning(t.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None
