"""Worker binding codes and editable task cards: one contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import DuplicateError
from storage.models import Community, GridWorker, TaskCard, Ticket, TicketEvent
from storage.repositories import SqlStore

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


async def _worker(store: SqlStore) -> int:
    async with store.unit() as uow:
        community = await uow.registry.add(Community(name="测试社区"))
        worker = await uow.registry.add(GridWorker(name="张伟", community_id=community.id))
        return int(worker.id)


async def _ticket(store: SqlStore, number: str = "MH-20261122-0001") -> int:
    async with store.unit() as uow:
        ticket = await uow.tickets.add(
            Ticket(number=number, category="noise", created_at=T0, updated_at=T0)
        )
        return int(ticket.id or 0)


async def _event(store: SqlStore, ticket_id: int, kind: str) -> int:
    async with store.unit() as uow:
        event = await uow.tickets.add_event(
            TicketEvent(ticket_id=ticket_id, at=T0, kind=kind, actor_type="worker")
        )
        return int(event.id or 0)


async def test_a_bind_code_is_used_once_when_redeemed_twice(sql_store: SqlStore) -> None:
    worker_id = await _worker(sql_store)
    async with sql_store.unit() as uow:
        code = await uow.bind_codes.add(
            "h1", worker_id, now=T0, expires_at=T0 + timedelta(hours=1), created_by="cli"
        )
    async with sql_store.unit() as uow:
        assert await uow.bind_codes.use(code.id or 0, now=T0, channel="telegram", user_id="42")
    async with sql_store.unit() as uow:
        assert not await uow.bind_codes.use(code.id or 0, now=T0, channel="telegram", user_id="43")
        stored = await uow.bind_codes.by_hash("h1")
    assert stored is not None and stored.used_at == T0
    assert (stored.used_channel, stored.used_user_id) == ("telegram", "42")


async def test_a_bind_code_cannot_be_used_when_expired(sql_store: SqlStore) -> None:
    worker_id = await _worker(sql_store)
    async with sql_store.unit() as uow:
        code = await uow.bind_codes.add("h2", worker_id, now=T0, expires_at=T0 + timedelta(hours=1))
    async with sql_store.unit() as uow:
        late = T0 + timedelta(hours=1)
        assert not await uow.bind_codes.use(code.id or 0, now=late, channel="telegram", user_id="1")
        stored = await uow.bind_codes.by_hash("h2")
    assert stored is not None and stored.used_at is None


async def test_exactly_one_of_concurrent_redeemers_wins_a_bind_code(sql_store: SqlStore) -> None:
    worker_id = await _worker(sql_store)
    async with sql_store.unit() as uow:
        code = await uow.bind_codes.add("h3", worker_id, now=T0, expires_at=T0 + timedelta(days=1))

    async def redeem(user: str) -> bool:
        async with sql_store.unit() as uow:
            return await uow.bind_codes.use(code.id or 0, now=T0, channel="telegram", user_id=user)

    results = await asyncio.gather(*(redeem(str(i)) for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_duplicate_bind_code_hashes_are_refused(sql_store: SqlStore) -> None:
    worker_id = await _worker(sql_store)
    async with sql_store.unit() as uow:
        await uow.bind_codes.add("same", worker_id, now=T0, expires_at=T0 + timedelta(days=1))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.bind_codes.add("same", worker_id, now=T0, expires_at=T0 + timedelta(days=1))


async def test_a_card_is_found_by_its_platform_message_and_recorded_once(
    sql_store: SqlStore,
) -> None:
    ticket_id = await _ticket(sql_store)
    card = TaskCard(
        channel="telegram", recipient="42", message_id="7", ticket_id=ticket_id, created_at=T0
    )
    async with sql_store.unit() as uow:
        await uow.cards.record(card)
        await uow.cards.record(TaskCard(**card.model_dump(exclude={"id"})))
    async with sql_store.unit() as uow:
        found = await uow.cards.for_message("telegram", "42", "7")
        assert found is not None and found.ticket_id == ticket_id
        assert await uow.cards.for_message("telegram", "43", "7") is None
        assert await uow.cards.for_message("wechat", "42", "7") is None


async def test_a_card_goes_stale_when_its_ticket_has_a_newer_event(sql_store: SqlStore) -> None:
    ticket_id = await _ticket(sql_store)
    other_ticket = await _ticket(sql_store, "MH-20261122-0002")
    first = await _event(sql_store, ticket_id, "assign")
    async with sql_store.unit() as uow:
        for recipient, message, ticket in (("42", "7", ticket_id), ("99", "8", other_ticket)):
            await uow.cards.record(
                TaskCard(
                    channel="telegram",
                    recipient=recipient,
                    message_id=message,
                    ticket_id=ticket,
                    last_event_id=first,
                    created_at=T0,
                )
            )
    async with sql_store.unit() as uow:
        assert await uow.cards.stale("telegram", since=T0 - timedelta(days=1)) == []

    newer = await _event(sql_store, ticket_id, "accept")
    async with sql_store.unit() as uow:
        stale = await uow.cards.stale("telegram", since=T0 - timedelta(days=1))
        assert [(c.message_id, t.number, e) for c, t, e in stale] == [
            ("7", "MH-20261122-0001", newer)
        ]
        assert await uow.cards.stale("telegram", since=T0 - timedelta(days=1), recipient="99") == []
        assert await uow.cards.stale("telegram", since=T0 + timedelta(seconds=1)) == []
        card = stale[0][0]

    # two refreshers: only the first moves the card on; then it is fresh
    async with sql_store.unit() as uow:
        assert await uow.cards.rendered(
            card.id or 0, previous_event_id=first, event_id=newer, fingerprint="f1"
        )
    async with sql_store.unit() as uow:
        assert not await uow.cards.rendered(
            card.id or 0, previous_event_id=first, event_id=newer, fingerprint="f2"
        )
        assert await uow.cards.stale("telegram", since=T0 - timedelta(days=1)) == []
        again = await uow.cards.for_message("telegram", "42", "7")
    assert again is not None and (again.last_event_id, again.fingerprint) == (newer, "f1")
