"""Storing many arrivals in one statement (issue 13): the same answers as one at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage.interfaces import NewInbound
from storage.models import ChannelIdentity, Outbox
from storage.repositories import SqlStore

T0 = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


def arrival(message_id: str, user: str = "u1", text: str = "电梯坏了") -> NewInbound:
    return NewInbound("wechat", message_id, user, {"text": text})


async def test_many_arrivals_are_stored_in_one_insert_in_the_order_given(
    sql_store: SqlStore,
) -> None:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    messages = [arrival(f"m{i}", f"u{i % 7}", f"第{i}条") for i in range(30)]
    engine = sql_store.database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        async with sql_store.unit() as uow:
            results = await uow.inbound.record_many(messages, now=T0)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert sum("INSERT INTO inboundmessage" in s for s in statements) == 1
    assert [(row.message_id, row.user_id, new) for row, new in results] == [
        (m.message_id, m.user_id, True) for m in messages
    ]
    async with sql_store.unit() as uow:
        for row, _ in results:
            assert row.id is not None
            stored = await uow.inbound.get(row.id)
            assert stored is not None
            assert (stored.message_id, stored.payload) == (row.message_id, row.payload)


async def test_a_retried_or_repeated_message_id_is_refused_in_a_batch(
    sql_store: SqlStore,
) -> None:
    async with sql_store.unit() as uow:
        first, new = await uow.inbound.record("wechat", "m1", "u1", {"text": "漏水"}, now=T0)
        assert new
        await uow.inbound.update(first.id or 0, status="done", now=T0, replies=[{"text": "好"}])
    later = T0 + timedelta(seconds=3)
    batch = [arrival("m1", text="漏水"), arrival("m2"), arrival("m2"), arrival("m3", "u2")]
    async with sql_store.unit() as uow:
        results = await uow.inbound.record_many(batch, now=later)
    assert [(row.message_id, new) for row, new in results] == [
        ("m1", False),  # WeChat's retry: the stored row, with its replies
        ("m2", True),
        ("m2", False),  # the same id twice in one batch is stored once
        ("m3", True),
    ]
    assert results[0][0].id == first.id and results[0][0].status == "done"
    assert results[0][0].replies == [{"text": "好"}]
    assert results[1][0].id == results[2][0].id
    async with sql_store.unit() as uow:
        for key in ("m1", "m2", "m3"):
            assert await uow.inbound.by_message_id("wechat", key) is not None
        assert len(await uow.inbound.recent_for_user("wechat", "u1", limit=10)) == 2


async def test_welcome_back_for_a_batch_wakes_only_the_senders(sql_store: SqlStore) -> None:
    later = T0 + timedelta(hours=1)
    async with sql_store.unit() as uow:
        for user in ("a", "b", "c"):
            uow.session.add(ChannelIdentity(channel="wechat", user_id=user, reachable=False))
            item = await uow.outbox.enqueue("wechat", user, {"text": "进展"}, now=T0)
            item.next_try_at = later  # backing off
    async with sql_store.unit() as uow:
        woken = await uow.recovery.welcome_back_many([("wechat", "a"), ("wechat", "b")], T0)
    assert woken == 2
    async with sql_store.unit() as uow:
        rows = (await uow.session.exec(sa.select(ChannelIdentity))).all()
        reachable = {r[0].user_id: r[0].reachable for r in rows}
        items = (await uow.session.exec(sa.select(Outbox))).all()
        due = {r[0].recipient: r[0].next_try_at == T0 for r in items}
    assert reachable == {"a": True, "b": True, "c": False}
    assert due == {"a": True, "b": True, "c": False}


@pytest.mark.parametrize("senders", [[], [("wechat", "nobody")]])
async def test_welcome_back_of_nobody_waiting_changes_nothing(
    sql_store: SqlStore, senders: list[tuple[str, str]]
) -> None:
    async with sql_store.unit() as uow:
        assert await uow.recovery.welcome_back_many(senders, T0) == 0
