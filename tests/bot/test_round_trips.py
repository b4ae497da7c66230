"""Database round trips per message: the webhook's throughput is bounded by them (issue 13).

Counted, not timed: every SQL statement the engine sends while one message is handled, with
Redis up. A regression here (say, a fallback store consulted on every call) multiplies the
latency of every resident's message under load.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.services


@pytest.fixture(params=["services"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {
        "database_url": request.getfixturevalue("fresh_postgres_url")(),
        "redis_url": request.getfixturevalue("redis_url"),
        "redis_prefix": request.getfixturevalue("redis_prefix"),
    }


@contextmanager
def counting(engine: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split())[:110])

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)


QUIET = {  # the background loops (outbox, SLA sweeper, recovery, model watch) stay asleep
    "outbox_poll_seconds": 3600,
    "model_watch_seconds": 3600,
    "sla": {"enabled": False},
    "reliability": {"recovery_every_seconds": 3600},
}


async def test_a_known_residents_chat_message_costs_a_handful_of_statements(
    start_app: Any,
) -> None:
    async with start_app(load_demo=True, **QUIET) as app:
        engine = app.container.database.engine
        await app.say("r-trips", "你好")  # first contact creates the resident
        with counting(engine) as statements:
            replies = await app.say("r-trips", "谢谢")
        assert replies
        # the inbound insert; reachable + waking and resurrecting waiting deliveries (one
        # statement); the identity and department look-ups, the resident and its last-seen
        # update, an open handoff, own (open and awaiting rating, one UNION) and followed
        # tickets, active notices, the final update: 11. It was 15 while the identity was read
        # three times and the wake-ups took three statements; before the session-store fix
        # every Redis call also ran a database transaction (about 25).
        assert len(statements) <= 11, "\n".join(statements)
        assert sum(s.startswith("SELECT channelidentity.") for s in statements) == 1


async def test_filing_a_report_reads_each_row_once(start_app: Any) -> None:
    async with start_app(load_demo=True, **QUIET) as app:
        engine = app.container.database.engine
        replies = await app.say("r-trips", "6幢电梯按钮坏了，按了没反应")
        for _ in range(8):
            payloads = [b["payload"] for b in replies[-1]["buttons"]]
            if "confirm" in payloads:
                break
            if "哪一幢" in replies[-1]["text"]:
                replies = await app.say("r-trips", "6号楼")
            else:
                assert "skip" in payloads, replies[-1]
                replies = await app.say("r-trips", button="skip")
        with counting(engine) as statements:
            replies = await app.say("r-trips", button="confirm")
        assert "已受理！工单号 MH-" in replies[-1]["text"]
        # the chat turn's 11 plus the building, the duplicate search, the number, the ticket,
        # its events and clocks, routing (grid, worker loads), the worker's card in the outbox,
        # the hotspot check: 37. It was 43 while the sender's identity was read three times,
        # the community three times and the wake-ups took three statements.
        assert len(statements) <= 37, "\n".join(statements)
        # identities: the sender's and the assigned worker's channels; the ticket's community
        assert sum(s.startswith("SELECT channelidentity.") for s in statements) == 2
        assert sum(s.startswith("SELECT community.id, community.name") for s in statements) == 1


async def test_a_healthy_session_store_adds_no_statement(start_app: Any) -> None:
    async with start_app(load_demo=True, **QUIET) as app:
        store = app.container.sessions
        engine = app.container.database.engine
        store.shadow_refresh_seconds = 3600  # the keys written during an outage: read once
        await store.load("warm-up")
        with counting(engine) as statements:
            for n in range(10):
                assert await store.claim(f"trip:{n}", ttl_seconds=60)
                await store.save(f"trip-conv:{n}", {"n": n}, ttl_seconds=60)
                assert await store.load(f"trip-conv:{n}") == {"n": n}
        # only the store's own table counts: the app's start-up recovery pass may still be
        # leasing old inbound rows on the same engine while this runs
        assert [s for s in statements if "sessionentry" in s.lower()] == []
