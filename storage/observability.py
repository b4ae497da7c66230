"""What the database knows that /metrics reports: outbox, tickets and SLA clocks right now.

These are counts over shared tables, so every replica reports the same numbers (Prometheus
takes them from whichever replica it scrapes; the dashboard uses ``max``). Four grouped
queries by indexed status columns, one round trip each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from storage.db import Database
from storage.errors import StorageError
from storage.models import Outbox, Ticket, TicketClock
from storage.sql_common import table_of

# Firing one of these means the deadline was missed (reminders only warn before it).
DEADLINE_CLOCKS = ("accept", "resolve", "callback")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counts at one moment.

    Attributes:
        outbox: outbox items by status (pending, sent, dead, rerouted).
        oldest_pending_seconds: age of the oldest pending outbox item (0 when none).
        tickets: tickets by status.
        clocks: SLA clocks by (kind, status).
        clocks_due: pending clocks whose time has come (a growing number: no sweeper runs).
    """

    outbox: dict[str, int]
    oldest_pending_seconds: float
    tickets: dict[str, int]
    clocks: dict[tuple[str, str], int]
    clocks_due: int

    @property
    def breached(self) -> int:
        """Deadline clocks that fired: tickets not accepted / resolved / called back in time."""
        return sum(
            n
            for (kind, status), n in self.clocks.items()
            if status == "fired" and kind in DEADLINE_CLOCKS
        )


async def snapshot(database: Database, now: datetime) -> Snapshot:
    """Read the counts (raises StorageError when the database fails)."""
    outbox, ticket, clock = table_of(Outbox), table_of(Ticket), table_of(TicketClock)
    try:
        async with database.session() as s:
            rows = await s.execute(
                sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
            )
            by_status = {str(k): int(n) for k, n in rows.all()}
            oldest = (
                await s.execute(
                    sa.select(sa.func.min(outbox.c.created_at)).where(outbox.c.status == "pending")
                )
            ).scalar_one_or_none()
            rows = await s.execute(
                sa.select(ticket.c.status, sa.func.count()).group_by(ticket.c.status)
            )
            tickets = {str(k): int(n) for k, n in rows.all()}
            rows = await s.execute(
                sa.select(clock.c.kind, clock.c.status, sa.func.count()).group_by(
                    clock.c.kind, clock.c.status
                )
            )
            clocks = {(str(k), str(st)): int(n) for k, st, n in rows.all()}
            due = (
                await s.execute(
                    sa.select(sa.func.count()).where(
                        clock.c.status == "pending", clock.c.due_at <= now
                    )
                )
            ).scalar_one()
    except sa.exc.SQLAlchemyError as e:
        raise StorageError(f"database error: {e}") from e
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite hands naive UTC back
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = max(0.0, (now - oldest).total_seconds())
    return Snapshot(by_status, age, tickets, clocks, int(due))
