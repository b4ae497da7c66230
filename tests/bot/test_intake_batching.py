"""A burst of arrivals is stored with a few INSERTs, each answered after its commit (issue 13).

Counted, not timed: the SQL statements the engine sends while the service receives messages
that arrive together. One transaction per message made a burst of 600 pay 600 INSERTs, 600
welcome-back UPDATEs and 600 COMMITs before any of them could be answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from handlers.messages import Inbound
from handlers.service import Receipt
from storage.errors import StorageError

QUIET = {  # the background loops stay asleep: only the arrivals talk to the database
    "outbox_poll_seconds": 3600,
    "model_watch_seconds": 3600,
    "sla": {"enabled": False},
    "reliability": {"recovery_every_seconds": 3600},
}


def arrivals(n: int, prefix: str = "burst") -> list[Inbound]:
    return [
        Inbound(channel="web", user_id=f"r{i % 9}", message_id=f"{prefix}-{i}", text=f"第{i}条")
        for i in range(n)
    ]


async def test_arrivals_together_share_a_few_inserts_when_they_come_at_once(
    start_app: Any,
) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    async with start_app(load_demo=False, **QUIET) as app:
        service = app.container.service
        engine = app.container.database.engine.sync_engine
        messages = arrivals(40)
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            receipts = await asyncio.gather(*(service.receive(m) for m in messages))
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        inserts = [s for s in statements if s.startswith("INSERT INTO inboundmessage")]
        assert 1 <= len(inserts) <= 4, inserts  # one each before batching: 40
        assert all(r.new and r.status == "received" for r in receipts)
        assert len({r.inbound_id for r in receipts}) == 40
        async with app.container.store.unit() as uow:  # committed, each with its own text
            for message, receipt in zip(messages, receipts, strict=True):
                row = await uow.inbound.get(receipt.inbound_id)
                assert row is not None
                assert (row.message_id, row.user_id) == (message.message_id, message.user_id)
                assert row.payload["text"] == message.text


async def test_a_retried_message_id_is_still_refused_when_it_arrives_in_a_burst(
    start_app: Any,
) -> None:
    async with start_app(load_demo=False, **QUIET) as app:
        service = app.container.service
        first = arrivals(5, "earlier")
        stored = [await service.receive(m) for m in first]
        fresh = arrivals(10, "later")
        # the platform's retries of stored messages, the same new message twice, new ones
        burst = [*first[:3], fresh[0], fresh[0], *fresh[1:]]
        receipts = await asyncio.gather(*(service.receive(m) for m in burst))
        assert [r.new for r in receipts[:3]] == [False, False, False]
        assert [r.inbound_id for r in receipts[:3]] == [s.inbound_id for s in stored[:3]]
        assert sorted([receipts[3].new, receipts[4].new]) == [False, True]
        assert receipts[3].inbound_id == receipts[4].inbound_id
        assert all(r.new for r in receipts[5:])
        async with app.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("web", "r0", limit=50)
        assert sorted(r.message_id for r in rows) == ["earlier-0", "later-0", "later-9"]


async def test_one_message_the_database_refuses_does_not_cost_the_others_theirs(
    start_app: Any,
) -> None:
    async with start_app(load_demo=False, **QUIET) as app:
        if app.container.database.is_sqlite:
            pytest.skip("SQLite stores an over-long id; PostgreSQL refuses it (varchar(128))")
        service = app.container.service
        good = arrivals(3, "fine")
        bad = Inbound(channel="web", user_id="r-bad", message_id="x" * 200, text="太长")
        results = await asyncio.gather(
            *(service.receive(m) for m in [good[0], bad, *good[1:]]), return_exceptions=True
        )
        assert isinstance(results[1], StorageError)
        stored = [r for i, r in enumerate(results) if i != 1]
        assert all(isinstance(r, Receipt) and r.new for r in stored), results
        async with app.container.store.unit() as uow:
            for message in good:
                assert await uow.inbound.by_message_id("web", message.message_id) is not None
