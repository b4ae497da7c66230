"""One contract for the inbound journal, in memory and on the real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from storage.errors import StorageError
from storage.journal import InboundJournal, MemoryInboundJournal, RedisInboundJournal
from tests.faults.harness import free_port

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def journal(request: pytest.FixtureRequest) -> AsyncIterator[InboundJournal]:
    if request.param == "memory":
        yield MemoryInboundJournal()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis = RedisInboundJournal(url, prefix=prefix)
    try:
        yield redis
    finally:
        await redis.close()


def payload(text: str) -> dict[str, Any]:
    return {"text": text}


async def test_entries_come_back_oldest_first_until_acknowledged(journal: InboundJournal) -> None:
    assert await journal.pending(10) == []
    assert await journal.append("wechat", "m1", "u1", payload("一"), received_at=AT)
    assert await journal.append("web", "m2", "u2", payload("二"), received_at=AT)
    first, second = await journal.pending(10)
    assert (first.channel, first.message_id, first.user_id, first.payload) == (
        "wechat",
        "m1",
        "u1",
        {"text": "一"},
    )
    assert first.received_at == AT and second.message_id == "m2"
    assert [e.message_id for e in await journal.pending(1)] == ["m1"]
    await journal.ack(first)
    await journal.ack(first)  # idempotent
    assert [e.message_id for e in await journal.pending(10)] == ["m2"]


async def test_a_retry_of_a_waiting_message_is_not_journaled_twice(
    journal: InboundJournal,
) -> None:
    assert await journal.append("wechat", "m1", "u1", payload("一"), received_at=AT)
    assert not await journal.append("wechat", "m1", "u1", payload("一"), received_at=AT)
    assert await journal.append("web", "m1", "u1", payload("一"), received_at=AT)  # other channel
    assert len(await journal.pending(10)) == 2


async def test_a_sender_is_held_until_all_their_entries_are_acknowledged(
    journal: InboundJournal,
) -> None:
    assert not await journal.holds("wechat", "u1")
    await journal.append("wechat", "m1", "u1", payload("一"), received_at=AT)
    await journal.append("wechat", "m2", "u1", payload("二"), received_at=AT)
    assert await journal.holds("wechat", "u1")
    assert not await journal.holds("wechat", "u2") and not await journal.holds("web", "u1")
    first, second = await journal.pending(10)
    await journal.ack(first)
    assert await journal.holds("wechat", "u1")
    await journal.ack(second)
    assert not await journal.holds("wechat", "u1")
    # forgotten once drained: the same id can be journaled again (a later outage)
    assert await journal.append("wechat", "m1", "u1", payload("一"), received_at=AT)


async def test_one_drain_lease_at_a_time_renewed_by_its_owner(journal: InboundJournal) -> None:
    assert await journal.lease("a", 30)
    assert await journal.lease("a", 30)  # renewed
    assert not await journal.lease("b", 30)
    await journal.release("b")  # not b's to give up
    assert not await journal.lease("b", 30)
    await journal.release("a")
    assert await journal.lease("b", 30)


@pytest.mark.parametrize("call", ["append", "pending", "holds"])
async def test_an_unreachable_redis_is_a_storage_error(call: str) -> None:
    journal = RedisInboundJournal(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StorageError):
            if call == "append":
                await journal.append("web", "m", "u", payload("x"), received_at=AT)
            elif call == "pending":
                await journal.pending(1)
            else:
                await journal.holds("web", "u")
    finally:
        await journal.close()
