"""Reading tickets (I/O, read only): a ticket's timeline, followers and clocks, and the
public Open311 view of them.

Open311 is the public's one permission (``handlers.permissions``: ``read_public``): it
reads the masked projection ``handlers.open311`` builds, never the ticket itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from handlers.flows import category_label
from handlers.open311 import (
    Open311Error,
    PublicTicket,
    RequestQuery,
    check_jurisdiction,
    parse_query,
    records,
    service_codes,
    service_list,
)
from handlers.permissions import PUBLIC, Action, TicketTarget, may
from handlers.ports import Clock
from handlers.sla import ClockKind, duration_text
from handlers.tickets.common import PUBLIC_NOTE_KINDS, LifecycleConfig, read_ticket
from storage.interfaces import Store
from storage.models import Ticket, TicketClock, TicketEvent, TicketFollower


class TicketQueries:
    """What a ticket's history, followers and clocks are; the Open311 feed.

    Args:
        store: units of work over the database.
        clock: the time source (Open311's default date window).
        config: the Open311 and SLA policies.
    """

    def __init__(self, store: Store, clock: Clock, config: LifecycleConfig) -> None:
        self.store = store
        self.clock = clock
        self.config = config

    async def timeline(self, number: str) -> list[TicketEvent]:
        """Every event of a ticket, oldest first."""
        async with self.store.unit() as uow:
            ticket = await read_ticket(uow, number)
            return list(await uow.tickets.events(ticket.id or 0))

    async def followers(self, number: str) -> list[TicketFollower]:
        async with self.store.unit() as uow:
            ticket = await read_ticket(uow, number)
            return list(await uow.followers.for_ticket(ticket.id or 0))

    async def clocks(self, number: str) -> list[TicketClock]:
        async with self.store.unit() as uow:
            ticket = await read_ticket(uow, number)
            return list(await uow.clocks.for_ticket(ticket.id or 0))

    # --- Open311 ---------------------------------------------------------------------------

    def open311_services(self, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        check_jurisdiction(params or {}, self.config.open311)
        return service_list()

    async def open311_requests(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET requests.json``. Raises Open311Error (400) for bad parameters."""
        query = parse_query(
            params, now=self.clock.now(), policy=self.config.open311, codes=service_codes()
        )
        return await self._open311(query)

    async def open311_request(self, number: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET requests/{id}.json``: a one-element list. Raises Open311Error (404)."""
        check_jurisdiction(params, self.config.open311)
        found = await self._open311(RequestQuery(numbers=(number.upper(),)))
        if not found:
            raise Open311Error(404, f"service_request_id {number} was not found")
        return found

    async def _open311(self, query: RequestQuery) -> list[dict[str, Any]]:
        async with self.store.unit() as uow:
            found = await uow.finder.requests(
                numbers=query.numbers,
                categories=query.categories or None,
                start=query.start,
                end=query.end,
                statuses=query.statuses,
                limit=query.limit,
            )
            rows = [r for r in found if _public(r)]
            ids = [r.id or 0 for r in rows]
            communities = {c.id: c for c in await uow.registry.communities()}
            # only the places these tickets name (a city has tens of thousands)
            wanted = [r.building_id for r in rows if r.building_id is not None]
            buildings = {b.id: b for b in await uow.registry.buildings(ids=wanted)}
            in_grids = [r.grid_id for r in rows if r.grid_id is not None]
            grids = {g.id: g for g in await uow.registry.grids(ids=in_grids)}
            events = await uow.finder.events_for(
                ids, (*PUBLIC_NOTE_KINDS, "merge", "handoff", "cohandle")
            )
            deadlines = await uow.clocks.pending_for_tickets(ids, ClockKind.RESOLVE.value)
        labels = {code: category_label(code) for code in service_codes()}
        public: list[PublicTicket] = []
        for row in rows:
            history = events.get(row.id or 0, [])
            notes = [e.note for e in history if e.kind in PUBLIC_NOTE_KINDS and e.note]
            merged = [str(e.data.get("into", "")) for e in history if e.kind == "merge"]
            departments = tuple(
                dict.fromkeys(
                    str(e.data.get("department", ""))
                    for e in history
                    if e.kind in ("handoff", "cohandle") and e.data.get("department")
                )
            )
            community = communities.get(row.community_id) if row.community_id else None
            building = buildings.get(row.building_id) if row.building_id else None
            grid = grids.get(row.grid_id) if row.grid_id else None
            target = self.config.sla.target(row.category, row.priority)
            deadline = deadlines.get(row.id or 0)
            public.append(
                PublicTicket(
                    number=row.number,
                    status=row.status,
                    category=row.category,
                    description=row.description,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    community=community.name if community else "",
                    street=community.street if community else "",
                    building=building.name if building else "",
                    building_lat=building.latitude if building else None,
                    building_lon=building.longitude if building else None,
                    ticket_lat=row.latitude,
                    ticket_lon=row.longitude,
                    grid=grid.name if grid else "",
                    departments=departments,
                    last_note=notes[-1] if notes else "",
                    merged_into=merged[-1] if merged else "",
                    expected_at=deadline.due_at if deadline and deadline.level <= 1 else None,
                    accept_target=duration_text(target.accept.total_seconds()),
                    resolve_target=duration_text(target.resolve.total_seconds()),
                    labels=labels,
                )
            )
        # masking personal data in up to a thousand descriptions is ~2 ms of jieba each: off
        # the event loop, which keeps answering residents meanwhile
        return await asyncio.to_thread(records, public, self.config.open311)


def _public(ticket: Ticket) -> bool:
    # the public sees the masked projection of every ticket (and nothing else of it)
    return may(PUBLIC, Action.READ_PUBLIC, TicketTarget.of(ticket), {})
