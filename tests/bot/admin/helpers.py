"""Builders for console tests: accounts, logins, tokens, a second community, tickets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"


async def make_user(
    container: Any,
    username: str,
    role: str,
    *,
    community_id: int | None = None,
    worker_id: int | None = None,
    password: str = PASSWORD,
) -> int:
    from bot.admin.accounts import create_user

    async with container.store.unit() as uow:
        user = await create_user(
            uow,
            username=username,
            password=password,
            role=role,
            env="test",
            now=container.clock.now(),
            community_id=community_id,
            worker_id=worker_id,
        )
        return int(user.id)


async def api_token(container: Any, username: str) -> str:
    from bot.admin.accounts import issue_api_token

    async with container.store.unit() as uow:
        user = await uow.admin.user_by_name(username)
        assert user is not None
        return await issue_api_token(uow, user, now=container.clock.now(), days=30)


def bearer(app: Any, token: str) -> httpx.AsyncClient:
    """A client without cookies that authenticates with a bearer token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app),
        base_url="http://minhu.test",
        headers={"Authorization": f"Bearer {token}"},
    )


def fresh_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="http://minhu.test"
    )


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]*)"', html)
    assert match, "no csrf meta tag"
    return match.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form like a browser; returns the session's CSRF token."""
    page = await client.get("/admin/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text
    home = await client.get("/admin/tickets")
    assert home.status_code == 200, f"login as {username} failed: {response.headers}"
    return csrf_of(home.text)


@dataclass
class Other:
    """A second community with its own grid, building, worker and staff."""

    community_id: int
    grid_id: int
    building_id: int
    worker_id: int


async def second_community(container: Any) -> Other:
    from storage.models import Building, Community, Grid, GridWorker

    async with container.store.unit() as uow:
        community = await uow.registry.add(Community(name="明月社区", street="东湖街道"))
        grid = await uow.registry.add(Grid(community_id=community.id, name="明月一网格"))
        building = await uow.registry.add(
            Building(community_id=community.id, grid_id=grid.id, name="明月1幢", aliases=[])
        )
        worker = await uow.registry.add(
            GridWorker(name="孙丽", community_id=community.id, grid_id=grid.id, phone="13900000009")
        )
        await uow.registry.bind_worker_identity(worker.id, "web", "worker-sun")
    container.service.invalidate_registry()
    return Other(int(community.id), int(grid.id), int(building.id), int(worker.id))


async def demo_ids(container: Any) -> dict[str, Any]:
    """Ids of the demo community, its grids and workers by name."""
    async with container.store.unit() as uow:
        community = await uow.registry.community_by_name("阳光花园社区")
        grids = {g.name: g.id for g in await uow.registry.grids(community.id)}
        workers = {w.name: w.id for w in await uow.registry.workers(community.id)}
        buildings = {b.name: b.id for b in await uow.registry.buildings(community.id)}
    return {"community": community.id, "grids": grids, "workers": workers, "buildings": buildings}


async def add_ticket(
    container: Any,
    *,
    community_id: int,
    category: str = "noise",
    status: str = "assigned",
    priority: str = "normal",
    assignee_id: int | None = None,
    grid_id: int | None = None,
    building_id: int | None = None,
    building_name: str = "",
    description: str = "楼上半夜装修很吵",
    created_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
    channel_user_id: str = "",
) -> str:
    """A ticket written straight to the database (for list/filter/authorisation tests)."""
    from storage.models import Ticket, TicketEvent

    now = created_at or container.clock.now()
    async with container.store.unit() as uow:
        number = await uow.tickets.next_number(now.strftime("%Y%m%d"))
        ticket = await uow.tickets.add(
            Ticket(
                number=number,
                community_id=community_id,
                category=category,
                priority=priority,
                status=status,
                description=description,
                building_id=building_id,
                building_name=building_name,
                grid_id=grid_id,
                assignee_id=assignee_id,
                channel="web" if channel_user_id else "",
                channel_user_id=channel_user_id,
                extra=extra or {},
                created_at=now,
                updated_at=now,
                assigned_at=now if assignee_id else None,
            )
        )
        await uow.tickets.add_event(
            TicketEvent(
                ticket_id=ticket.id, at=now, kind="created", actor_type="resident", note=description
            )
        )
    return number
