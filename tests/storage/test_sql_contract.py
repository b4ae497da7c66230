"""One contract suite for the SQL store, run on SQLite (embedded) and on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import DuplicateError, StorageError
from storage.models import Community, Grid, GridWorker, Street, Ticket, TicketEvent
from storage.repositories import SqlStore

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


async def test_migrations_are_idempotent(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        await uow.registry.add(Community(name="阳光花园社区"))
    await sql_store.database.migrate()
    await sql_store.database.migrate()
    async with sql_store.unit() as uow:
        assert [c.name for c in await uow.registry.communities()] == ["阳光花园社区"]


async def test_ticket_numbers_count_per_day(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        first = await uow.tickets.next_number("20261122")
        second = await uow.tickets.next_number("20261122")
        other_day = await uow.tickets.next_number("20261123")
    assert (first, second, other_day) == (
        "MH-20261122-0001",
        "MH-20261122-0002",
        "MH-20261123-0001",
    )


async def test_ticket_numbers_stay_unique_under_concurrency(sql_store: SqlStore) -> None:
    async def allocate() -> str:
        async with sql_store.unit() as uow:
            return await uow.tickets.next_number("20261122")

    numbers = await asyncio.gather(*(allocate() for _ in range(20)))
    assert sorted(numbers) == [f"MH-20261122-{i:04d}" for i in range(1, 21)]


async def test_timestamps_come_back_as_aware_utc(sql_store: SqlStore) -> None:
    local = datetime(2026, 11, 22, 17, 30, tzinfo=UTC).astimezone()  # any zone in
    async with sql_store.unit() as uow:
        community = await uow.registry.add(Community(name="测试社区"))
        ticket = await uow.tickets.add(
            Ticket(
                number="MH-20261122-0001",
                community_id=community.id,
                category="noise",
                created_at=local,
                updated_at=local,
                description="楼上装修",
            )
        )
    async with sql_store.unit() as uow:
        again = await uow.tickets.by_number("mh-20261122-0001")
    assert again is not None and again.id == ticket.id
    assert again.created_at == local and again.created_at.tzinfo is not None


async def test_duplicate_registry_rows_are_refused(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        await uow.registry.add(Community(name="阳光花园社区"))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.registry.add(Community(name="阳光花园社区"))
    async with sql_store.unit() as uow:
        assert len(await uow.registry.communities()) == 1


async def test_inbound_is_recorded_once_per_channel_message_id(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        row, new = await uow.inbound.record("wechat", "m1", "u1", {"text": "漏水"}, now=T0)
        assert new and row.status == "received"
        await uow.inbound.update(
            row.id or 0, status="done", now=T0, replies=[{"text": "已受理", "buttons": []}]
        )
    async with sql_store.unit() as uow:
        again, new = await uow.inbound.record("wechat", "m1", "u1", {"text": "漏水"}, now=T0)
        assert not new and again.id == row.id and again.status == "done"
        assert again.replies == [{"text": "已受理", "buttons": []}]
        _, other_channel = await uow.inbound.record("telegram", "m1", "u1", {}, now=T0)
        assert other_channel


async def test_residents_are_created_once_per_identity(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        first, ident = await uow.registry.ensure_resident("web", "r1", now=T0)
        second, _ = await uow.registry.ensure_resident("web", "r1", now=T0)
    assert first.id == second.id and ident.last_inbound_at == T0


async def test_events_are_kept_in_order(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.add(Ticket(number="MH-20261122-0009", category="noise"))
        for kind in ("created", "assign", "accept"):
            await uow.tickets.add_event(
                TicketEvent(ticket_id=ticket.id or 0, kind=kind, actor_type="system", at=T0)
            )
    async with sql_store.unit() as uow:
        assert [e.kind for e in await uow.tickets.events(ticket.id or 0)] == [
            "created",
            "assign",
            "accept",
        ]


async def enqueue(store: SqlStore, recipient: str, text: str, now: datetime = T0) -> int:
    async with store.unit() as uow:
        item = await uow.outbox.enqueue("web", recipient, {"text": text}, now=now)
        return item.id or 0


async def test_outbox_claim_is_exclusive_while_leased(sql_store: SqlStore) -> None:
    await enqueue(sql_store, "a", "1")
    await enqueue(sql_store, "b", "2")
    async with sql_store.unit() as uow:
        claimed = await uow.outbox.claim_due(T0, limit=10, lease_seconds=30)
    assert [c.payload["text"] for c in claimed] == ["1", "2"]
    async with sql_store.unit() as uow:
        assert (
            await uow.outbox.claim_due(T0 + timedelta(seconds=10), limit=10, lease_seconds=30) == []
        )
    # a sender that died: the lease runs out and the item is claimed again
    async with sql_store.unit() as uow:
        again = await uow.outbox.claim_due(T0 + timedelta(seconds=31), limit=10, lease_seconds=30)
    assert len(again) == 2


async def test_outbox_keeps_each_recipients_messages_in_order(sql_store: SqlStore) -> None:
    first = await enqueue(sql_store, "a", "accepted")
    await enqueue(sql_store, "a", "progress")
    await enqueue(sql_store, "b", "other user")
    async with sql_store.unit() as uow:
        claimed = await uow.outbox.claim_due(T0, limit=10, lease_seconds=30)
        assert [c.payload["text"] for c in claimed] == ["accepted", "other user"]
        head, other = claimed
        await uow.outbox.mark_retry(
            first, head.claim_token, error="timeout", next_try_at=T0 + timedelta(minutes=5)
        )
        await uow.outbox.mark_sent(other.id or 0, other.claim_token, now=T0)
    async with sql_store.unit() as uow:
        # "progress" may not overtake the retrying "accepted"
        assert (
            await uow.outbox.claim_due(T0 + timedelta(minutes=1), limit=10, lease_seconds=30) == []
        )
    async with sql_store.unit() as uow:
        due = await uow.outbox.claim_due(T0 + timedelta(minutes=6), limit=10, lease_seconds=30)
        assert [c.payload["text"] for c in due] == ["accepted"]
        await uow.outbox.mark_sent(due[0].id or 0, due[0].claim_token, now=T0)
    async with sql_store.unit() as uow:
        due = await uow.outbox.claim_due(T0 + timedelta(minutes=6), limit=10, lease_seconds=30)
    assert [c.payload["text"] for c in due] == ["progress"]


async def test_concurrent_claimers_never_get_the_same_item(sql_store: SqlStore) -> None:
    for i in range(30):
        await enqueue(sql_store, f"user-{i}", str(i))

    async def claim() -> list[int]:
        async with sql_store.unit() as uow:
            return [c.id or 0 for c in await uow.outbox.claim_due(T0, limit=10, lease_seconds=60)]

    batches = await asyncio.gather(*(claim() for _ in range(5)))
    ids = [i for batch in batches for i in batch]
    assert len(ids) == len(set(ids)) == 30


async def test_a_stale_claim_token_cannot_mark_an_item(sql_store: SqlStore) -> None:
    await enqueue(sql_store, "a", "1")
    async with sql_store.unit() as uow:
        [item] = await uow.outbox.claim_due(T0, limit=1, lease_seconds=1)
    async with sql_store.unit() as uow:
        [again] = await uow.outbox.claim_due(T0 + timedelta(seconds=2), limit=1, lease_seconds=30)
    assert again.claim_token != item.claim_token
    with pytest.raises(StorageError):
        async with sql_store.unit() as uow:
            await uow.outbox.mark_sent(item.id or 0, item.claim_token, now=T0)


async def test_mailbox_delivery_is_idempotent_and_drained_once(sql_store: SqlStore) -> None:
    item = await enqueue(sql_store, "r1", "进展")
    async with sql_store.unit() as uow:
        await uow.mailbox.deliver("web", "r1", {"text": "进展"}, outbox_id=item, now=T0)
    async with sql_store.unit() as uow:
        await uow.mailbox.deliver("web", "r1", {"text": "进展"}, outbox_id=item, now=T0)
        await uow.mailbox.deliver("web", "r2", {"text": "别人的"}, outbox_id=None, now=T0)
    async with sql_store.unit() as uow:
        assert await uow.mailbox.drain("web", "r1") == [{"text": "进展"}]
    async with sql_store.unit() as uow:
        assert await uow.mailbox.drain("web", "r1") == []
        assert await uow.mailbox.drain("web", "r2") == [{"text": "别人的"}]


async def test_a_failed_unit_of_work_leaves_nothing_behind(sql_store: SqlStore) -> None:
    with pytest.raises(RuntimeError):
        async with sql_store.unit() as uow:
            await uow.registry.add(Community(name="半截社区"))
            raise RuntimeError("boom")
    async with sql_store.unit() as uow:
        assert await uow.registry.communities() == []


async def test_the_registry_cache_reloads_only_when_the_database_says_it_changed(
    sql_store: SqlStore,
) -> None:
    from handlers.conversations.context import RegistryCache
    from storage.models import Building

    async with sql_store.unit() as uow:
        place = await uow.registry.add(Community(name="阳光社区", street="东湖街道"))
        await uow.registry.add(Building(community_id=place.id, name="3幢", aliases=["3号楼"]))
    cache = RegistryCache(sql_store, ttl_seconds=0)
    first = await cache.get()
    again = await cache.get()
    postgres = first.fingerprint is not None
    # PostgreSQL digests the registry: unchanged, the index is kept; SQLite reads it again
    assert (again.buildings is first.buildings) is postgres
    async with sql_store.unit() as uow:
        building = (await uow.registry.buildings())[0]
        building.aliases = ["3号楼", "三栋"]
        await uow.registry.add(building)
    changed = await cache.get()
    assert changed.buildings is not first.buildings
    assert changed.buildings[0].aliases == ("3号楼", "三栋")
    assert changed.buildings[0].street == "东湖街道"


async def test_routing_reaches_the_communities_grids_workers_and_street_staff(
    sql_store: SqlStore,
) -> None:
    async with sql_store.unit() as uow:
        street = await uow.registry.add(Street(name="东湖街道"))
        east = await uow.registry.add(Community(name="东苑", street_id=street.id))
        west = await uow.registry.add(Community(name="西苑", street_id=street.id))
        far = await uow.registry.add(Community(name="远郊"))
        g_east = await uow.registry.add(Grid(community_id=east.id, name="第一网格"))
        g_west = await uow.registry.add(Grid(community_id=west.id, name="第一网格"))
        await uow.registry.add(Grid(community_id=far.id, name="第一网格"))
        people = {}
        for name, role, community, grid, street_id in (
            ("东网格员", "grid_worker", east, g_east, None),
            ("西网格员", "grid_worker", west, g_west, None),
            ("街道专员", "street_staff", west, None, street.id),  # their office: 西苑
            ("远网格员", "grid_worker", far, None, None),
        ):
            people[name] = await uow.registry.add(
                GridWorker(
                    name=name, role=role, community_id=community.id,
                    grid_id=grid.id if grid else None, street_id=street_id,
                )
            )  # fmt: skip
        for i, status in enumerate(("assigned", "in_progress", "closed")):
            await uow.tickets.add(
                Ticket(
                    number=f"MH-{i}",
                    category="noise",
                    status=status,
                    assignee_id=people["东网格员"].id,
                )
            )
    async with sql_store.unit() as uow:
        own = await uow.registry.routing_scope(int(east.id or 0), g_east.id)
        assert [g.id for g in own.grids] == [g_east.id]
        assert [w.name for w in own.workers] == ["东网格员", "街道专员"]
        assert own.open_counts == {people["东网格员"].id: 2}
        assert own.street_of == {east.id: street.id}
        # a ticket of 东苑 in a grid of 西苑 reaches both communities, 东苑 first
        both = await uow.registry.routing_scope(int(east.id or 0), g_west.id)
        assert [g.id for g in both.grids] == [g_east.id, g_west.id]
        assert [w.name for w in both.workers] == ["东网格员", "西网格员", "街道专员"]
        alone = await uow.registry.routing_scope(int(far.id or 0), None)
        assert [w.name for w in alone.workers] == ["远网格员"] and alone.street_of == {}
        nowhere = await uow.registry.routing_scope(999, None)
        assert (nowhere.grids, nowhere.workers) == ([], [])
