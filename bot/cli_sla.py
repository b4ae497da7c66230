"""``minhu sla …``: run an SLA sweep by hand (cron, catch-up, benchmarks) and look at clocks.

The sweep needs only the database: no NLU model, no Redis. Any number of these (and of
running apps) may sweep at once; each due clock still fires exactly once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer

sla_app = typer.Typer(help="SLA clocks: sweep due clocks, show their state.", no_args_is_help=True)


class FixedClock:
    """A clock stopped at one instant (``--now``: replay a sweep as of a given time)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter("use ISO 8601, e.g. 2026-11-22T09:30:00+08:00") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@sla_app.command("sweep")
def sweep(
    now: Annotated[str | None, typer.Option(help="sweep as of this time (ISO 8601)")] = None,
    batch: Annotated[int, typer.Option(help="clocks claimed per round trip")] = 100,
    lease: Annotated[float, typer.Option(help="claim lease in seconds")] = 60.0,
) -> None:
    """Fire every due clock once and print what happened (JSON)."""
    from bot.cli_common import load_settings
    from bot.sla import lifecycle_config
    from handlers.ports import Clock, SystemClock
    from handlers.sla_service import SlaSweeper
    from handlers.ticket_service import TicketService
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()
    at = _parse_now(now)

    async def main() -> dict[str, int]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database)
            clock: Clock = FixedClock(at) if at else SystemClock()
            tickets = TicketService(store=store, clock=clock, config=lifecycle_config(settings))
            sweeper = SlaSweeper(store, tickets, clock, batch=batch, lease_seconds=lease)
            return asdict(await sweeper.run_once())
        finally:
            await database.dispose()

    typer.echo(json.dumps(asyncio.run(main())))


@sla_app.command("status")
def status() -> None:
    """Clocks per state and the next due time."""
    from bot.cli_common import load_settings
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()

    async def main() -> dict[str, object]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            async with SqlStore(database).unit() as uow:
                counts = await uow.clocks.counts()
                due = await uow.clocks.next_due_at()
            return {"clocks": counts, "next_due_at": due.isoformat() if due else None}
        finally:
            await database.dispose()

    typer.echo(json.dumps(asyncio.run(main()), ensure_ascii=False))
