"""Fault drills (short versions for CI; bench/faults.py runs the long one).

Two ``minhu serve`` replicas on our own PostgreSQL and Redis take a steady stream of
residents' messages while one fault strikes. Afterwards every message is stored and done
exactly once, every urgent report filed exactly one ticket, nothing is left unfinished.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.harness import Cluster, Outcome, tools_available

pytestmark = pytest.mark.skipif(tools_available() is not None, reason=str(tools_available()))

MESSAGES = 60
RATE = 10.0
FAULT_AT = 2.0


@pytest.fixture
async def cluster(tmp_path: Path, trained_models: Path) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path, trained_models)
    try:
        await c.start()
        yield c
    finally:
        c.stop()


def assert_exactly_once(outcome: Outcome) -> None:
    assert outcome.stored == MESSAGES, outcome
    assert outcome.unfinished == 0, outcome
    assert outcome.duplicate_rows == 0, outcome
    assert outcome.tickets == outcome.tickets_expected, outcome
    assert outcome.duplicate_tickets == 0, outcome


async def test_redis_killed_and_restarted_loses_nothing_and_refuses_nothing(
    cluster: Cluster,
) -> None:
    def fault() -> None:
        cluster.redis.kill()
        time.sleep(3)
        cluster.redis.start()

    counts = await cluster.drive(messages=MESSAGES, rate=RATE, fault_at=FAULT_AT, fault=fault)
    outcome = await cluster.settle(counts, MESSAGES)
    assert_exactly_once(outcome)
    assert counts.http_5xx == 0 and counts.answered == MESSAGES  # the database stood in


async def test_postgres_restarted_every_message_is_stored_and_processed_once(
    cluster: Cluster,
) -> None:
    def fault() -> None:
        cluster.pg.stop()
        time.sleep(2)
        cluster.pg.start()

    counts = await cluster.drive(messages=MESSAGES, rate=RATE, fault_at=FAULT_AT, fault=fault)
    outcome = await cluster.settle(counts, MESSAGES)
    assert_exactly_once(outcome)


async def test_a_replica_killed_mid_message_blocks_no_one_and_loses_nothing(
    cluster: Cluster,
) -> None:
    def fault() -> None:
        cluster.replicas[1].kill()

    counts = await cluster.drive(messages=MESSAGES, rate=RATE, fault_at=FAULT_AT, fault=fault)
    cluster.restart_replica(1)  # what an orchestrator does; its stuck rows are recovered anyway
    outcome = await cluster.settle(counts, MESSAGES)
    assert_exactly_once(outcome)
    await asyncio.sleep(0)
