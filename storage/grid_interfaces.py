"""Repository interface of the whole grid (issue 14): notices, their audience and delivery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from storage.models import (
    ChannelIdentity,
    Hotspot,
    Notice,
    Outbox,
    Resident,
    Ticket,
    TicketFollower,
)


class NoticeRepository(Protocol):
    """Notices, the residents they reach, opt-outs and delivery counts."""

    async def add(self, notice: Notice) -> Notice: ...
    async def get(self, notice_id: int) -> Notice | None: ...
    async def save(self, notice: Notice) -> None: ...
    async def listed(
        self, *, community_ids: Sequence[int] | None, streets: Sequence[str] | None, limit: int
    ) -> Sequence[Notice]:
        """Newest first; ``None`` filters do not restrict (a street-wide notice has no
        community and is listed for its street)."""
        ...

    async def live(self, now: datetime) -> Sequence[Notice]:
        """Published (not withdrawn) notices not ended by ``now`` (ends_at null included)."""
        ...

    async def residents(
        self, *, building_ids: Iterable[int] | None, community_ids: Iterable[int] | None
    ) -> Sequence[Resident]:
        """Residents whose home is one of the buildings, or (else) in one of the communities."""
        ...

    async def identities(self, resident_ids: Iterable[int]) -> Sequence[ChannelIdentity]: ...
    async def opted_out(self, resident_ids: Iterable[int]) -> set[int]: ...
    async def set_opt_out(self, resident_id: int, off: bool, *, now: datetime) -> None: ...
    async def enqueue(
        self,
        notice_id: int,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> Outbox: ...
    async def delivery(self, notice_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Outbox rows per notice by status (pending / sent / dead)."""
        ...


class HotspotRepository(Protocol):
    """Recent reports of a community and the hotspots found among them."""

    async def recent_tickets(self, community_id: int | None, since: datetime) -> Sequence[Ticket]:
        """Tickets filed since (cancelled and merged ones left out)."""
        ...

    async def open_tickets(self, community_id: int | None) -> Sequence[Ticket]: ...
    async def follows_since(
        self, ticket_ids: Iterable[int], since: datetime
    ) -> Sequence[TicketFollower]:
        """Residents who reported the same problem again (followers ``via="duplicate"``)."""
        ...

    async def latest(self, key: str) -> Hotspot | None: ...
    async def save(self, hotspot: Hotspot) -> Hotspot: ...
    async def get(self, hotspot_id: int) -> Hotspot | None: ...
    async def listed(
        self, *, community_ids: Sequence[int] | None, since: datetime, limit: int = 200
    ) -> Sequence[Hotspot]: ...
