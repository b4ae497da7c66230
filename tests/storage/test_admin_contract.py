"""Contract of the admin repositories, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from storage.admin_types import DashboardCounts, Overdue, ResolveTargets, TicketFilter
from storage.errors import DuplicateError
from storage.models import (
    AdminToken,
    AdminUser,
    AuditLog,
    ChannelIdentity,
    Community,
    Grid,
    NluExample,
    NluIntent,
    NluLookup,
    Resident,
    ReviewDecision,
    Ticket,
    TicketEvent,
)
from storage.repositories import SqlStore

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


async def test_usernames_and_token_hashes_are_unique(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        user = await uow.admin.add_user(AdminUser(username="ops", password_hash="h", role="admin"))
        await uow.admin.add_token(AdminToken(user_id=user.id, kind="api", token_hash="a" * 64))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.admin.add_user(AdminUser(username="ops", password_hash="x", role="admin"))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.admin.add_token(AdminToken(user_id=user.id, kind="api", token_hash="a" * 64))
    async with sql_store.unit() as uow:
        assert (await uow.admin.token_by_hash("a" * 64)).user_id == user.id
        assert await uow.admin.revoke_tokens(user.id) == 1
        assert await uow.admin.revoke_tokens(user.id) == 0
        assert (await uow.admin.token_by_hash("a" * 64)).revoked


async def test_audit_pages_newest_first_and_filters_by_action_prefix(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        for i in range(5):
            await uow.admin.add_audit(
                AuditLog(at=T0 + timedelta(minutes=i), action=f"ticket.n{i}", username="a")
            )
        await uow.admin.add_audit(AuditLog(at=T0, action="login", username="b"))
    async with sql_store.unit() as uow:
        rows, total = await uow.admin.audit(limit=2, action="ticket.")
        assert total == 5 and [r.action for r in rows] == ["ticket.n4", "ticket.n3"]
        rows, total = await uow.admin.audit(username="b")
        assert total == 1 and rows[0].action == "login"


async def test_training_data_keeps_one_text_per_intent_and_finds_shared_texts(
    sql_store: SqlStore,
) -> None:
    async with sql_store.unit() as uow:
        noise = await uow.nlu_data.add_intent(NluIntent(name="report_noise"))
        dispute = await uow.nlu_data.add_intent(NluIntent(name="report_dispute"))
        await uow.nlu_data.add_example(NluExample(intent_id=noise.id, text="楼上太吵"))
        await uow.nlu_data.add_example(NluExample(intent_id=dispute.id, text="楼上太吵"))
        await uow.nlu_data.add_example(
            NluExample(
                intent_id=noise.id,
                text="3幢装修",
                entities=[{"start": 0, "end": 2, "entity": "building"}],
            )
        )
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.nlu_data.add_example(NluExample(intent_id=noise.id, text="楼上太吵"))
    async with sql_store.unit() as uow:
        assert await uow.nlu_data.shared_texts() == {"楼上太吵": ["report_dispute", "report_noise"]}
        assert await uow.nlu_data.example_counts() == {noise.id: 2, dispute.id: 1}
        rows = await uow.nlu_data.all_examples()
        assert next((r.intent, r.text) for r in rows) == ("report_dispute", "楼上太吵")
        assert next(r for r in rows if r.text == "3幢装修").entities[0]["entity"] == "building"
        assert await uow.nlu_data.delete_intent(noise.id) == 2
        assert [i.name for i in await uow.nlu_data.intents()] == ["report_dispute"]
        await uow.nlu_data.save_table_row(NluLookup(name="pets", items=["狗", "猫"]))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.nlu_data.save_table_row(NluLookup(name="pets", items=[]))
    async with sql_store.unit() as uow:
        assert [r.items for r in await uow.nlu_data.table_rows("lookup")] == [["狗", "猫"]]
        await uow.nlu_data.clear()
        assert await uow.nlu_data.is_empty()


async def test_review_decisions_are_taken_once(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        await uow.admin.add_decision(
            ReviewDecision(source="inbound", source_id=7, action="labelled")
        )
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.admin.add_decision(
                ReviewDecision(source="inbound", source_id=7, action="dismissed")
            )
    async with sql_store.unit() as uow:
        assert await uow.admin.decided("inbound", [6, 7, 8]) == {7}
        assert await uow.admin.decided("ticket", [7]) == set()


async def _tickets(sql_store: SqlStore) -> tuple[int, int]:
    async with sql_store.unit() as uow:
        a = await uow.registry.add(Community(name="A"))
        b = await uow.registry.add(Community(name="B"))
        rows = [
            ("MH-1", a.id, "noise", "assigned", "normal", T0, None, "楼上100%吵"),
            ("MH-2", a.id, "elevator", "accepted", "urgent", T0 + timedelta(hours=1), 5, "电梯"),
            ("MH-3", b.id, "noise", "closed", "normal", T0 + timedelta(days=1), None, "噪音"),
        ]
        for number, community, category, status, priority, created, _, text in rows:
            await uow.tickets.add(
                Ticket(
                    number=number, community_id=community, category=category, status=status,
                    priority=priority, description=text, created_at=created, rating=4,
                    assigned_at=created if status == "assigned" else None,
                )
            )  # fmt: skip
    return int(a.id), int(b.id)


async def test_ticket_queries_filter_scope_count_and_time(sql_store: SqlStore) -> None:
    a, b = await _tickets(sql_store)
    async with sql_store.unit() as uow:
        q = uow.ticket_queries

        async def found(f: TicketFilter) -> list[str]:
            rows, total = await q.search(f)
            assert total == len(rows)
            return sorted(t.number for t in rows)

        assert await found(TicketFilter()) == ["MH-1", "MH-2", "MH-3"]
        assert await found(TicketFilter(community_ids=(a,))) == ["MH-1", "MH-2"]
        assert await found(TicketFilter(community_ids=())) == []
        assert await found(TicketFilter(categories=("noise",), statuses=("closed",))) == ["MH-3"]
        assert await found(TicketFilter(query="100%")) == ["MH-1"]
        assert await found(TicketFilter(query="_")) == []
        assert await found(TicketFilter(created_from=T0 + timedelta(minutes=30))) == [
            "MH-2",
            "MH-3",
        ]
        overdue = Overdue(
            waiting=("assigned",),
            open=("assigned", "accepted"),
            accept_before={"normal": T0 + timedelta(minutes=1), "urgent": T0},
            resolve_before={"normal": T0, "urgent": T0 + timedelta(hours=2)},
        )
        assert await found(TicketFilter(overdue=overdue)) == ["MH-1", "MH-2"]
        rows, total = await q.search(TicketFilter(), limit=1, offset=1)
        assert total == 3 and [t.number for t in rows] == ["MH-2"]
        assert await q.count_by(TicketFilter(), "category") == {"noise": 2, "elevator": 1}
        assert await q.count_by(TicketFilter(community_ids=(b,)), "status") == {"closed": 1}
        timings = await q.timings(TicketFilter(community_ids=(a,)))
        assert [t.created_at for t in timings] == [T0, T0 + timedelta(hours=1)]
        with pytest.raises(ValueError):
            await q.count_by(TicketFilter(), "description")


async def test_search_finds_numbers_phones_and_words_as_a_substring_search_would(
    sql_store: SqlStore,
) -> None:
    rows = [
        ("MH-20261207-0001", "13700000001", "楼道漏水，墙皮掉了"),
        ("MH-20261207-0012", "057188888888", "Lift 电梯门关不上，请回电13700000001"),
        ("MH-20261208-0001", "", "电瓶车飞线充电"),
        ("MH-20261208-10001", "13900000002", "消防通道被占"),
    ]
    async with sql_store.unit() as uow:
        community = await uow.registry.add(Community(name="A"))
        for number, phone, text in rows:
            await uow.tickets.add(
                Ticket(number=number, community_id=community.id, category="other",
                       description=text, contact_phone=phone, created_at=T0)
            )  # fmt: skip
    async with sql_store.unit() as uow:

        async def found(term: str) -> list[str]:
            page = await uow.ticket_queries.page(TicketFilter(query=term))
            assert page.total == len(page.rows) and not page.more
            return sorted(t.number for t in page.rows)

        # a ticket number, whole or its first part, in any case
        assert await found("MH-20261207-0012") == ["MH-20261207-0012"]
        assert await found("mh-20261207-0001") == ["MH-20261207-0001"]
        assert await found("MH-20261208") == ["MH-20261208-0001", "MH-20261208-10001"]
        assert await found("MH-20261208-1000") == ["MH-20261208-10001"]
        # any part of a number or a phone
        assert await found("0001") == [
            "MH-20261207-0001", "MH-20261207-0012", "MH-20261208-0001", "MH-20261208-10001"
        ]  # fmt: skip
        assert await found("8888") == ["MH-20261207-0012"]
        assert await found("20261207-001") == ["MH-20261207-0012"]
        # a mobile number: the contact phone and a description that quotes it
        assert await found("13700000001") == ["MH-20261207-0001", "MH-20261207-0012"]
        assert await found("13900000002") == ["MH-20261208-10001"]
        # words: two characters, longer phrases, letters in any case
        assert await found("漏水") == ["MH-20261207-0001"]
        assert await found("电梯门关不上") == ["MH-20261207-0012"]
        assert await found("lift") == ["MH-20261207-0012"]
        assert await found("M") == [number for number, _, _ in rows]
        assert await found("%") == []
        # within a community (ordered by an expression the primary key does not cover)
        here = await uow.ticket_queries.page(
            TicketFilter(query="0001", community_ids=(int(community.id or 0),)), limit=2
        )
        assert [t.number for t in here.rows] == ["MH-20261208-10001", "MH-20261208-0001"]
        assert (here.total, here.more) == (4, False)
        elsewhere = await uow.ticket_queries.page(
            TicketFilter(query="漏水", community_ids=(int(community.id or 0) + 1,))
        )
        assert (list(elsewhere.rows), elsewhere.total) == ([], 0)
        # the patterns are written into the statement: quotes, backslashes and LIKE's own
        # characters are searched for as they are
        await uow.tickets.add(
            Ticket(number="MH-20261209-0001", community_id=community.id, category="other",
                   description="满意度100%_好'); DROP TABLE ticket; --\\斜杠", created_at=T0)
        )  # fmt: skip
        quoted = ["MH-20261209-0001"]
        assert await found("0%_好'); DROP TABLE ticket; --") == quoted
        assert await found("'") == quoted and await found("\\") == quoted
        assert await found("%_") == quoted and await found("_") == quoted
        assert await found("满意度100%_好'") == quoted and await found("100__") == []


async def test_a_page_counts_matches_up_to_a_bound_then_says_more(sql_store: SqlStore) -> None:
    await _tickets(sql_store)
    async with sql_store.unit() as uow:
        q = uow.ticket_queries
        every = await q.page(TicketFilter(), limit=50, count_up_to=2)
        assert (len(every.rows), every.total, every.more) == (3, 3, False)  # all on the page
        first = await q.page(TicketFilter(), limit=1, count_up_to=2)
        assert [t.number for t in first.rows] == ["MH-3"]
        assert (first.total, first.more) == (2, True)  # "2+"
        exact = await q.page(TicketFilter(), limit=1, count_up_to=3)
        assert (exact.total, exact.more) == (3, False)
        # a page beyond the bound counts at least to its end
        far = await q.page(TicketFilter(), limit=1, offset=2, count_up_to=1)
        assert [t.number for t in far.rows] == ["MH-1"] and (far.total, far.more) == (3, False)
        past = await q.page(TicketFilter(), limit=2, offset=4, count_up_to=1)
        assert (list(past.rows), past.total, past.more) == ([], 3, False)


async def test_a_city_wide_search_reads_the_newest_tickets_first_with_the_same_results(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.admin_repositories.RECENT_WINDOW", 4)
    texts = ["漏水", "漏水", "噪音", "漏水", "漏水", "噪音", "漏水", "停车", "停车"]
    async with sql_store.unit() as uow:
        community = await uow.registry.add(Community(name="A"))
        for i, text in enumerate(texts, start=1):
            await uow.tickets.add(
                Ticket(number=f"MH-20261207-{i:04d}", community_id=community.id,
                       category="other", description=f"楼道{text}", created_at=T0)
            )  # fmt: skip
    async with sql_store.unit() as uow:
        q = uow.ticket_queries

        async def numbers(term: str, **kw: int) -> tuple[list[int], int, bool]:
            page = await q.page(TicketFilter(query=term), **kw)
            return [int(t.number[-4:]) for t in page.rows], page.total, page.more

        # the newest four (6–9) hold one match: the whole table answers
        assert await numbers("漏水", limit=2) == ([7, 5], 5, False)
        assert await numbers("漏水", limit=2, count_up_to=3) == ([7, 5], 3, True)
        # the newest four hold the page: their count says "more" or the table counts
        assert await numbers("停车", limit=1, count_up_to=1) == ([9], 1, True)
        assert await numbers("停车", limit=1, count_up_to=5) == ([9], 2, False)
        assert await numbers("楼道", limit=2, offset=1, count_up_to=2) == ([8, 7], 3, True)
        assert await numbers("楼道", limit=3, count_up_to=100) == ([9, 8, 7], 9, False)


async def test_unsure_messages_come_from_residents_of_the_scope(sql_store: SqlStore) -> None:
    async with sql_store.unit() as uow:
        a = await uow.registry.add(Community(name="A"))
        resident = await uow.registry.add(Resident(community_id=a.id))
        await uow.registry.add(
            ChannelIdentity(channel="web", user_id="r1", resident_id=resident.id)
        )
        await uow.registry.add(ChannelIdentity(channel="web", user_id="w1", worker_id=None))
        for i, (user, intent, confidence) in enumerate(
            [("r1", "report_noise", 0.3), ("r1", "out_of_scope", 0.9), ("r1", "greet", 0.99),
             ("w1", "report_noise", 0.1)]
        ):  # fmt: skip
            row, _ = await uow.inbound.record("web", f"m{i}", user, {"text": "x"}, now=T0)
            await uow.inbound.update(
                row.id, status="done", now=T0, intent=intent, confidence=confidence
            )
    async with sql_store.unit() as uow:
        rows = await uow.ticket_queries.unsure_inbound(threshold=0.5, since=T0 - timedelta(days=1))
        assert sorted(r.message_id for r in rows) == ["m0", "m1", "m3"]
        scoped = await uow.ticket_queries.unsure_inbound(
            threshold=0.5, since=T0 - timedelta(days=1), community_ids=(a.id,)
        )
        assert sorted(r.message_id for r in scoped) == ["m0", "m1"]
        ticket = await uow.tickets.add(
            Ticket(number="MH-9", community_id=a.id, category="noise", created_at=T0)
        )
        await uow.tickets.add_event(
            TicketEvent(ticket_id=ticket.id, kind="recategorize", actor_type="admin")
        )
        found = await uow.ticket_queries.recategorised(TicketFilter(community_ids=(a.id,)))
        assert [t.number for t, _ in found] == ["MH-9"]


async def test_dashboard_counts_are_the_same_as_counting_ticket_by_ticket(
    sql_store: SqlStore,
) -> None:
    """PostgreSQL aggregates in the database; the figures equal counting rows in Python."""
    from storage.admin_repositories import _dashboard_of

    targets = ResolveTargets(
        by_priority={"urgent": 4 * 3600.0, "normal": 72 * 3600.0},
        fallback=72 * 3600.0,
        by_category={"elevator": {"normal": 24 * 3600.0}},
    )
    async with sql_store.unit() as uow:
        place = await uow.registry.add(Community(name="阳光社区"))
        # (category, priority, status, rating, accepted after, resolved after), hours
        rows = [
            ("noise", "normal", "closed", 5, 1.0, 70.0),
            ("elevator", "normal", "closed", 3, 0.5, 30.0),  # past its own 24 h target
            ("elevator", "urgent", "resolved", None, 0.25, 3.0),
            ("noise", "high", "assigned", None, None, None),
            ("parking", "normal", "closed", 0, 2.0, 80.0),  # 0: not rated
            ("parking", "normal", "accepted", None, 3.0, None),
        ]
        for i, (category, priority, status, rating, accepted, resolved) in enumerate(rows):
            # 15:30 UTC is 23:30 in Shanghai: the local day turns between the tickets
            created = T0 + timedelta(hours=7, minutes=30 + 20 * i)
            await uow.tickets.add(
                Ticket(
                    number=f"MH-D{i}",
                    community_id=place.id,
                    category=category,
                    priority=priority,
                    status=status,
                    grid_id=None,
                    rating=rating,
                    created_at=created,
                    accepted_at=created + timedelta(hours=accepted) if accepted else None,
                    resolved_at=created + timedelta(hours=resolved) if resolved else None,
                )
            )
    async with sql_store.unit() as uow:
        q = uow.ticket_queries
        f = TicketFilter(community_ids=(place.id,), created_from=T0)
        opened = ("assigned", "accepted", "submitted")
        got = await q.dashboard(f, open_statuses=opened, targets=targets, zone="Asia/Shanghai")
        expected = _dashboard_of(await q.timings(f), opened, targets, ZoneInfo("Asia/Shanghai"))
    assert got == expected
    assert got.total == 6 and got.open == 2
    assert got.by_category == [("noise", 2), ("elevator", 2), ("parking", 2)]
    assert got.resolved == 4 and got.resolved_in_time == 2
    assert got.ratings == {5: 1, 3: 1}
    assert sorted(got.created_per_day.items()) == [
        (date(2026, 11, 20), 2),
        (date(2026, 11, 21), 4),
    ]
    assert got.median_accept_minutes == 60.0


def _normalised(counts: DashboardCounts) -> DashboardCounts:
    """Tied counts are listed in key order from the daily table, by first ticket otherwise."""

    def keyed(pairs: list[Any]) -> list[Any]:
        return sorted(pairs, key=lambda pair: (pair[0] is None, str(pair[0])))

    return replace(
        counts,
        by_category=keyed(counts.by_category),
        by_grid=keyed(counts.by_grid),
        by_status=keyed(counts.by_status),
        by_community=sorted(counts.by_community, key=lambda c: c.community_id or 0),
    )


async def test_dashboard_from_the_daily_table_equals_counting_the_tickets(
    sql_store: SqlStore,
) -> None:
    """The daily table (kept by triggers on ticket) gives the dashboard the figures counting
    the tickets gives, after a history of filing, routing, resolving, reopening, rating,
    recategorising, transfers, merges and deletions."""
    from storage.admin_repositories import _daily_window

    rng = random.Random(13)
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    targets = ResolveTargets(
        by_priority={"urgent": 4 * 3600.0, "normal": 48 * 3600.0},
        fallback=72 * 3600.0,
        by_category={"elevator": {"normal": 24 * 3600.0}},
    )
    opened = ("submitted", "assigned", "accepted", "in_progress", "reopened")
    categories = ("noise", "elevator", "parking", "sanitation")
    async with sql_store.unit() as uow:
        places = [await uow.registry.add(Community(name=f"社区{i}")) for i in range(3)]
        grids = {
            c.id: [await uow.registry.add(Grid(community_id=c.id, name=f"{k}网格")) for k in (1, 2)]
            for c in places
        }
        tickets = []
        for i in range(120):
            place = rng.choice([*places, None])
            # every hour of 20 days: local midnight (16:00 UTC) falls between tickets
            created = now - timedelta(days=20) + timedelta(hours=rng.uniform(0, 20 * 24))
            grid = rng.choice(grids[place.id] + [None]) if place else None
            tickets.append(
                await uow.tickets.add(
                    Ticket(
                        number=f"MH-H{i}",
                        community_id=place.id if place else None,
                        category=rng.choice(categories),
                        priority=rng.choice(("urgent", "normal", "high")),
                        grid_id=grid.id if grid else None,
                        created_at=created,
                    )
                )
            )
    for step in range(600):
        async with sql_store.unit() as uow:
            ticket = await uow.tickets.get(rng.choice(tickets).id)
            if ticket is None:  # deleted earlier
                continue
            move = rng.choice(
                ("route", "accept", "resolve", "reopen", "rate", "recategorise", "transfer",
                 "move", "merge", "delete")
            )  # fmt: skip
            at = ticket.created_at + timedelta(hours=rng.uniform(0.1, 80))
            if move == "route":
                ticket.status = "assigned"
            elif move == "accept":
                ticket.status, ticket.accepted_at = "accepted", at
            elif move == "resolve":
                ticket.status, ticket.resolved_at = "resolved", at
                ticket.accepted_at = ticket.accepted_at or at - timedelta(minutes=30)
            elif move == "reopen":
                ticket.status, ticket.resolved_at = "reopened", None
            elif move == "rate" and ticket.resolved_at is not None:
                ticket.status, ticket.rating = "closed", rng.choice((0, 1, 3, 4, 5))
            elif move == "recategorise":
                ticket.category = rng.choice(categories)
            elif move == "transfer" and ticket.community_id is not None:
                ticket.grid_id = rng.choice([g.id for g in grids[ticket.community_id]] + [None])
            elif move == "move":
                place = rng.choice(places)
                ticket.community_id, ticket.grid_id = place.id, None
            elif move == "merge":
                ticket.status = "merged"
            elif move == "delete" and step % 7 == 0:
                await uow.session.delete(ticket)
                continue
            await uow.tickets.save(ticket)
    today = now.astimezone(zone).date()
    filters = [
        TicketFilter(),
        TicketFilter(created_from=datetime.combine(today - timedelta(days=9), time(), zone)),
        TicketFilter(
            community_ids=(places[0].id,),
            created_from=datetime.combine(today - timedelta(days=29), time(), zone),
        ),
        TicketFilter(
            community_ids=(places[1].id, places[2].id),
            created_from=datetime.combine(today - timedelta(days=4), time(), zone),
        ),
    ]
    async with sql_store.unit() as uow:
        q = uow.ticket_queries
        for f in filters:
            assert _daily_window(f, "Asia/Shanghai")[0]
            got = await q.dashboard(f, open_statuses=opened, targets=targets, zone="Asia/Shanghai")
            counted = await q.dashboard_from_tickets(
                f, open_statuses=opened, targets=targets, zone="Asia/Shanghai"
            )
            assert _normalised(got) == _normalised(counted)
            assert got.total > 0
        everything = await q.dashboard(
            filters[0], open_statuses=opened, targets=targets, zone="Asia/Shanghai"
        )
        # the history reached every figure: some resolved in time and some late, rated, open
        assert 0 < everything.resolved_in_time < everything.resolved
        assert everything.ratings and everything.open and len(everything.by_community) == 4
        assert everything.median_accept_minutes is not None
        # a window not starting at a local midnight is counted from the tickets
        assert not _daily_window(TicketFilter(created_from=now), "Asia/Shanghai")[0]
