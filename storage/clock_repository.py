"""Durable SLA clocks: claimed with a lease, fired once by whichever process sweeps first.

SQL over one AsyncSession, the same on SQLite and PostgreSQL (see storage/repositories.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    TicketClock,
)
from storage.sql_common import table_of


class SqlClocks:
    """Durable SLA clocks; claimed with a lease and fired by a conditional update."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, clock: TicketClock) -> TicketClock:
        self.s.add(clock)
        await self.s.flush()
        return clock

    async def save(self, clock: TicketClock) -> None:
        self.s.add(clock)
        await self.s.flush()

    async def cancel(self, ticket_id: int, kinds: Iterable[str] | None, *, now: datetime) -> int:
        table = table_of(TicketClock)
        stmt = sa.update(table).where(table.c.ticket_id == ticket_id, table.c.status == "pending")
        if kinds is not None:
            stmt = stmt.where(table.c.kind.in_(list(kinds)))
        result = await self.s.execute(
            stmt.values(status="cancelled", cancelled_at=now, claimed_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def for_ticket(
        self, ticket_id: int, *, status: str | None = None
    ) -> Sequence[TicketClock]:
        query = select(TicketClock).where(TicketClock.ticket_id == ticket_id)
        if status is not None:
            query = query.where(TicketClock.status == status)
        query = query.order_by(col(TicketClock.id)).execution_options(populate_existing=True)
        return (await self.s.exec(query)).all()

    async def pending_for_tickets(
        self, ticket_ids: Iterable[int], kind: str
    ) -> dict[int, TicketClock]:
        ids = list(ticket_ids)
        found: dict[int, TicketClock] = {}
        for start in range(0, len(ids), 500):
            query = (
                select(TicketClock)
                .where(
                    col(TicketClock.ticket_id).in_(ids[start : start + 500]),
                    TicketClock.kind == kind,
                    TicketClock.status == "pending",
                )
                .order_by(col(TicketClock.due_at))
            )
            for clock in (await self.s.exec(query)).all():
                found.setdefault(clock.ticket_id, clock)
        return found

    async def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float
    ) -> list[TicketClock]:
        """Lease due clocks; PostgreSQL hands concurrent claimers disjoint rows (SKIP LOCKED).

        SQLite has no row locks but runs one writer at a time: the UPDATE below is a single
        statement, so a second process sees the first one's lease and skips those rows.
        """
        token = secrets.token_hex(8)
        table = table_of(TicketClock)
        candidates = (
            sa.select(table.c.id)
            .where(
                table.c.status == "pending",
                table.c.due_at <= now,
                sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
            )
            .order_by(table.c.due_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(table)
            .where(table.c.id.in_(candidates.scalar_subquery()))
            .values(claim_token=token, claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(table.c.id)
        )
        ids = [row[0] for row in (await self.s.execute(stmt)).all()]
        if not ids:
            return []
        query = (
            select(TicketClock)
            .where(col(TicketClock.id).in_(ids), TicketClock.claim_token == token)
            .order_by(col(TicketClock.due_at), col(TicketClock.id))
            .execution_options(populate_existing=True)
        )
        return list((await self.s.exec(query)).all())

    async def fire(self, clock_id: int, token: str, *, now: datetime) -> TicketClock | None:
        table = table_of(TicketClock)
        stmt = (
            sa.update(table)
            .where(
                table.c.id == clock_id,
                table.c.status == "pending",
                table.c.claim_token == token,
            )
            .values(status="fired", fired_at=now, claimed_until=None, attempts=table.c.attempts + 1)
            .returning(table.c.id)
        )
        if (await self.s.execute(stmt)).scalar_one_or_none() is None:
            return None
        query = select(TicketClock).where(TicketClock.id == clock_id)
        return (await self.s.exec(query.execution_options(populate_existing=True))).first()

    async def settle_expired(
        self,
        clock_ids: Iterable[int],
        token: str,
        *,
        kinds: Iterable[str],
        now: datetime,
        outcome: str,
    ) -> list[int]:
        table = table_of(TicketClock)
        stmt = (
            sa.update(table)
            .where(
                table.c.id.in_(list(clock_ids)),
                table.c.claim_token == token,
                table.c.status == "pending",
                table.c.kind.in_(list(kinds)),
                table.c.deadline_at <= now,
            )
            .values(
                status="fired",
                fired_at=now,
                claimed_until=None,
                attempts=table.c.attempts + 1,
                outcome=outcome[:200],
            )
            .returning(table.c.id)
        )
        return [row[0] for row in (await self.s.execute(stmt)).all()]

    async def retry(
        self, clock_id: int, token: str, *, error: str, retry_at: datetime, give_up: bool
    ) -> None:
        table = table_of(TicketClock)
        values: dict[str, Any] = {
            "attempts": table.c.attempts + 1,
            "last_error": error[:2000],
            "claimed_until": None,
        }
        if give_up:
            values["status"] = "failed"
        else:
            values["due_at"] = retry_at
        await self.s.execute(
            sa.update(table)
            .where(
                table.c.id == clock_id,
                table.c.status == "pending",
                table.c.claim_token == token,
            )
            .values(**values)
        )

    async def counts(self) -> dict[str, int]:
        query = select(TicketClock.status, sa.func.count()).group_by(col(TicketClock.status))
        return {str(status): int(count) for status, count in (await self.s.exec(query)).all()}

    async def next_due_at(self) -> datetime | None:
        query = select(sa.func.min(TicketClock.due_at)).where(TicketClock.status == "pending")
        value: datetime | None = (await self.s.exec(query)).first()
        return value
