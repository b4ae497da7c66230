"""SLA benchmark: one sweep over 10,000 open tickets by two app processes at once.

    .venv/bin/python bench/sla.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                  [--tickets 10000] [--processes 2] [--batch 200]

With a PostgreSQL URL (or MINHU_DATABASE_URL) a fresh database is created next to the one
named and dropped afterwards; without one, a temporary SQLite file is used.

Setup (not timed): the demo community, N urgent tickets assigned to grid workers, each with
its four clocks — a reminder and an accept deadline that fell due while "nobody swept" (the
catch-up case), and a resolution deadline plus its reminder that are not due. Then P real
OS processes (multiprocessing, spawn) each build the same ticket service and sweeper the app
runs and sweep the same database at the same instant.

Printed: the wall time of the sweep, clocks per second, each process's share, an idle sweep
(nothing due), and the proof: every ticket escalated exactly once (events counted per
ticket), one card per ticket to the grid leader, every due clock fired once, and exactly one
next-level clock per ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # "now" for every process


class FixedClock:
    def now(self) -> datetime:
        return T0


# --- database -----------------------------------------------------------------------------


def fresh_postgres(url: str) -> tuple[str, str]:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"minhu_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_postgres(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(url)._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def setup(url: str, count: int) -> None:
    import sqlalchemy as sa

    from bot.demo import load_demo
    from storage.db import Database
    from storage.models import Building, GridWorker, Ticket, TicketClock
    from storage.repositories import SqlStore

    database = Database(url)
    await database.migrate()
    store = SqlStore(database)
    await load_demo(store)
    async with store.unit() as uow:
        buildings = list(await uow.registry.buildings())
        workers = list(await uow.registry.workers())
    grids: dict[int | None, list[GridWorker]] = {}
    for w in workers:
        if w.role == "grid_worker" and w.on_duty:
            grids.setdefault(w.grid_id, []).append(w)
    parent = {}
    async with store.unit() as uow:
        for grid in await uow.registry.grids():
            parent[grid.id] = grid.parent_id

    def worker_for(building: Building) -> GridWorker:
        grid = building.grid_id
        while grid is not None and not grids.get(grid):
            grid = parent.get(grid)
        return grids[grid][0]

    created = T0 - timedelta(minutes=11)
    tickets = []
    for i in range(count):
        building = buildings[i % len(buildings)]
        day, seq = divmod(i, 9000)
        tickets.append(
            {
                "number": f"MH-{(T0 - timedelta(days=day)).strftime('%Y%m%d')}-{seq + 1:04d}",
                "community_id": building.community_id,
                "category": "elevator" if i % 2 else "safety",
                "priority": "urgent",
                "status": "assigned",
                "description": f"{building.name}电梯困人（压测 {i}）",
                "building_id": building.id,
                "building_name": building.name,
                "grid_id": building.grid_id,
                "assignee_id": worker_for(building).id,
                "channel": "web",
                "channel_user_id": f"bench-resident-{i}",
                "contact_phone": "",
                "extra": {},
                "unit": "",
                "room": "",
                "location_note": "",
                "rating_comment": "",
                "reopen_count": 0,
                "created_at": created,
                "updated_at": created,
                "assigned_at": created,
            }
        )
    table: Any = getattr(Ticket, "__table__")  # noqa: B009
    clocks: Any = getattr(TicketClock, "__table__")  # noqa: B009
    async with database.engine.begin() as conn:
        for start in range(0, count, 1000):
            await conn.execute(sa.insert(table), tickets[start : start + 1000])
        ids = [row[0] for row in (await conn.execute(sa.select(table.c.id))).all()]
        rows = []
        for ticket_id in ids:
            accept_due = created + timedelta(minutes=10)
            resolve_due = created + timedelta(hours=24)
            base = {
                "ticket_id": ticket_id,
                "status": "pending",
                "started_at": created,
                "attempts": 0,
            }
            base |= {"claim_token": "", "outcome": "", "last_error": "", "target_seconds": 600}
            rows += [
                base
                | {
                    "kind": "accept_remind",
                    "level": 1,
                    "due_at": created + timedelta(minutes=8),
                    "deadline_at": accept_due,
                },
                base | {"kind": "accept", "level": 1, "due_at": accept_due, "deadline_at": None},
                base
                | {
                    "kind": "resolve_remind",
                    "level": 1,
                    "due_at": created + timedelta(hours=19),
                    "deadline_at": resolve_due,
                    "target_seconds": 86400,
                },
                base
                | {
                    "kind": "resolve",
                    "level": 1,
                    "due_at": resolve_due,
                    "deadline_at": None,
                    "target_seconds": 86400,
                },
            ]
        for start in range(0, len(rows), 2000):
            await conn.execute(sa.insert(clocks), rows[start : start + 2000])
    await database.dispose()


# --- one sweeping process -----------------------------------------------------------------


def sweep_process(url: str, batch: int, start: Any, results: Any, index: int) -> None:
    sys.path.insert(0, str(ROOT))

    async def main() -> dict[str, Any]:
        from dataclasses import asdict

        from handlers.sla_service import SlaSweeper
        from handlers.ticket_service import TicketService
        from storage.db import Database
        from storage.repositories import SqlStore

        database = Database(url)
        store = SqlStore(database)
        clock = FixedClock()
        sweeper = SlaSweeper(store, TicketService(store=store, clock=clock), clock, batch=batch)
        async with store.unit() as uow:  # warm the pool before the start signal
            await uow.clocks.next_due_at()
        start.wait()
        began = time.perf_counter()
        result = await sweeper.run_once()
        elapsed = time.perf_counter() - began
        await database.dispose()
        return {"index": index, "seconds": elapsed, **asdict(result)}

    results.put(asyncio.run(main()))


async def idle_sweep(url: str) -> float:
    from handlers.sla_service import SlaSweeper
    from handlers.ticket_service import TicketService
    from storage.db import Database
    from storage.repositories import SqlStore

    database = Database(url)
    store = SqlStore(database)
    clock = FixedClock()
    sweeper = SlaSweeper(store, TicketService(store=store, clock=clock), clock)
    await sweeper.run_once()  # warm
    began = time.perf_counter()
    result = await sweeper.run_once()
    elapsed = time.perf_counter() - began
    await database.dispose()
    assert result.claimed == 0
    return elapsed


async def verify(url: str, count: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from storage.db import Database

    database = Database(url)
    async with database.engine.connect() as conn:
        per_ticket = (
            await conn.execute(
                sa.text(
                    "SELECT ticket_id, count(*) FROM ticketevent WHERE kind = 'escalate' "
                    "GROUP BY ticket_id"
                )
            )
        ).all()
        cards = (
            await conn.execute(
                sa.text("SELECT count(*) FROM outbox WHERE recipient = 'leader-chen'")
            )
        ).scalar_one()
        clocks = dict(
            (
                await conn.execute(
                    sa.text("SELECT status, count(*) FROM ticketclock GROUP BY status")
                )
            ).all()
        )
        due_left = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM ticketclock WHERE status = 'pending' AND due_at <= :t"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
        ).scalar_one()
        next_level = (
            await conn.execute(
                sa.text(
                    "SELECT count(DISTINCT ticket_id), count(*) FROM ticketclock "
                    "WHERE kind = 'accept' AND level = 2 AND status = 'pending'"
                )
            )
        ).one()
    await database.dispose()
    counts = [int(c) for _, c in per_ticket]
    return {
        "tickets_escalated": len(counts),
        "escalated_exactly_once": sum(1 for c in counts if c == 1),
        "escalated_twice_or_more": sum(1 for c in counts if c > 1),
        "missing": count - len(counts),
        "leader_cards": int(cards),
        "clocks": {str(k): int(v) for k, v in clocks.items()},
        "due_left": int(due_left),
        "next_level_clocks": {"tickets": int(next_level[0]), "clocks": int(next_level[1])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("MINHU_DATABASE_URL", ""))
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    dropped: tuple[str, str] | None = None
    temp: tempfile.TemporaryDirectory[str] | None = None
    if args.database_url.startswith("postgres"):
        url, name = fresh_postgres(args.database_url)
        dropped = (args.database_url, name)
        backend = "PostgreSQL"
    else:
        temp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{Path(temp.name) / 'bench.db'}"
        backend = "SQLite (embedded)"
    try:
        began = time.perf_counter()
        asyncio.run(setup(url, args.tickets))
        setup_seconds = time.perf_counter() - began

        ctx = mp.get_context("spawn")
        start = ctx.Event()
        results: Any = ctx.Queue()
        processes = [
            ctx.Process(target=sweep_process, args=(url, args.batch, start, results, i))
            for i in range(args.processes)
        ]
        for process in processes:
            process.start()
        time.sleep(2.0)  # every process imported, connected and waiting
        began = time.perf_counter()
        start.set()
        outcomes = [results.get(timeout=3600) for _ in processes]
        wall = time.perf_counter() - began
        for process in processes:
            process.join(timeout=60)

        idle = asyncio.run(idle_sweep(url))
        proof = asyncio.run(verify(url, args.tickets))
    finally:
        if dropped:
            drop_postgres(*dropped)
        if temp:
            temp.cleanup()

    due = sum(o["claimed"] for o in outcomes)
    print(
        f"SLA sweep benchmark — {backend}, {args.tickets:,} open tickets, "
        f"{4 * args.tickets:,} clocks ({2 * args.tickets:,} due), "
        f"{args.processes} processes, batch {args.batch}"
    )
    print(f"  setup (not timed)          {setup_seconds:8.1f} s")
    print(f"  sweep wall time            {wall:8.1f} s   ({due / wall:,.0f} due clocks/s)")
    for o in sorted(outcomes, key=lambda o: o["index"]):
        print(
            f"    process {o['index']}: {o['seconds']:6.1f} s  claimed {o['claimed']:>6,}  "
            f"escalated {o['fired']:>6,}  skipped {o['skipped']:>6,}  lost {o['lost']}  "
            f"failed {o['failed']}"
        )
    print(f"  idle sweep (nothing due)   {idle * 1000:8.1f} ms")
    print("proof")
    print(f"  tickets escalated          {proof['tickets_escalated']:>8,} of {args.tickets:,}")
    print(f"  exactly once               {proof['escalated_exactly_once']:>8,}")
    print(f"  twice or more              {proof['escalated_twice_or_more']:>8,}")
    print(f"  never                      {proof['missing']:>8,}")
    print(f"  cards to the grid leader   {proof['leader_cards']:>8,}")
    print(f"  due clocks left pending    {proof['due_left']:>8,}")
    print(f"  clocks by state            {proof['clocks']}")
    print(
        f"  next-level accept clocks   {proof['next_level_clocks']['clocks']:>8,} "
        f"on {proof['next_level_clocks']['tickets']:,} tickets"
    )
    ok = (
        proof["escalated_exactly_once"] == args.tickets
        and proof["leader_cards"] == args.tickets
        and proof["due_left"] == 0
        and proof["next_level_clocks"]["clocks"] == args.tickets
    )
    print("RESULT", "every due escalation fired exactly once" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
