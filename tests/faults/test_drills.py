"""Fault drills (short versions for CI; bench/faults.py runs the long one).

Two ``minhu serve`` replicas on our own PostgreSQL and Redis take a steady stream of
residents' messages while one fault strikes. Afterwards every message is stored and done
exactly once, every urgent report filed exactly one ticket, nothing is left unfinished.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.telegram.fake_api import SENDS, FakeTelegram
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


TOKEN = "7000000001:AAHfake-token-for-the-drill"
OUTAGE = 8.0  # bench/faults.py: 60 s


def telegram_env(fake: FakeTelegram) -> dict[str, str]:
    return {
        "MINHU_TELEGRAM__TOKEN": TOKEN,
        "MINHU_TELEGRAM__WEBHOOK_SECRET": "drill-webhook-secret-0123456789",
        "MINHU_TELEGRAM__API_BASE": fake.base_url,
        "MINHU_TELEGRAM__BOT_USERNAME": "minhu_drill_bot",
        "MINHU_TELEGRAM__CHAT_INTERVAL_SECONDS": "0",
        "MINHU_TELEGRAM__REQUEST_TIMEOUT_SECONDS": "5",
    }


def accepted(fake: FakeTelegram) -> set[str]:
    """The ids of the messages the fake Bot API accepted (sends that succeeded)."""
    return {str(c.result["message_id"]) for c in fake.calls if c.method in SENDS and c.result}


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


PG_OUTAGE = 8.0  # > the retry 5 s later: messages sent early in it have all 3 tries inside


async def test_postgres_down_longer_than_the_retries_loses_nothing_and_refuses_nothing(
    cluster: Cluster,
) -> None:
    def fault() -> None:
        cluster.pg.stop()
        cluster.restart_later(cluster.pg.start, PG_OUTAGE)  # messages keep coming meanwhile

    counts = await cluster.drive(messages=MESSAGES, rate=RATE, fault_at=FAULT_AT, fault=fault)
    outcome = await cluster.settle(counts, MESSAGES)
    assert_exactly_once(outcome)
    # every try was answered: what arrived while PostgreSQL was down was journaled in Redis,
    # told it was saved, then stored, processed and its answer pushed once it was back
    assert counts.http_5xx == 0 and counts.answered == MESSAGES, counts
    assert counts.journaled > 0, counts  # the outage was met
    assert outcome.journal_left == 0 and outcome.journaled_unanswered == 0, outcome


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


async def test_a_platform_outage_of_5xx_and_429_delivers_every_notification_exactly_once(
    tmp_path: Path, trained_models: Path
) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    cluster = Cluster(tmp_path, trained_models, extra_env=telegram_env(fake))
    try:
        await cluster.start()
        cluster.bind_workers("telegram", 7_100_000_001)  # task cards go out on Telegram

        def fault() -> None:
            # the load goes on meanwhile (drive() waits for a fault function to return)
            fake.outage = True
            threading.Timer(OUTAGE, lambda: setattr(fake, "outage", False)).start()

        counts = await cluster.drive(messages=MESSAGES, rate=RATE, fault_at=FAULT_AT, fault=fault)
        outcome = await cluster.settle(counts, MESSAGES)
        assert_exactly_once(outcome)
        deliveries = await cluster.deliveries("telegram", lambda: accepted(fake), within=120)
    finally:
        cluster.stop()
        await fake.stop()
    assert fake.outage_answers > 0  # the outage was met
    assert deliveries.sent + deliveries.rerouted >= outcome.tickets_expected, deliveries
    assert (deliveries.pending, deliveries.dead, deliveries.rerouted_unsent) == (0, 0, 0), (
        deliveries
    )
    assert (deliveries.duplicates, deliveries.missing) == (0, 0), deliveries
