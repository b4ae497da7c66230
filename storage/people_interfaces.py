"""Repository interface of the people around a building (issue 14): building heads and
volunteers, helpers on tickets, link codes, and moving a phone resident onto their chat."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from storage.models import BuildingHelper, ChannelIdentity, LinkCode, Ticket, TicketHelper


class PeopleRepository(Protocol):
    """Helpers and their buildings, helpers asked on tickets, one-time link codes."""

    async def add_helper(
        self, helper: BuildingHelper, building_ids: Iterable[int]
    ) -> BuildingHelper: ...

    async def helper(self, helper_id: int) -> BuildingHelper | None: ...
    async def save_helper(self, helper: BuildingHelper) -> None: ...
    async def set_buildings(self, helper_id: int, building_ids: Iterable[int]) -> None: ...

    async def helpers(
        self, *, community_ids: Sequence[int] | None = None, building_id: int | None = None
    ) -> Sequence[BuildingHelper]:
        """Active helpers, of the communities (None: all) or of one building."""
        ...

    async def buildings_of(self, helper_ids: Iterable[int]) -> dict[int, list[int]]:
        """helper id → the building ids it looks after."""
        ...

    async def helpers_of_resident(self, resident_id: int) -> Sequence[BuildingHelper]: ...

    async def ask(self, row: TicketHelper) -> TicketHelper: ...
    async def asked(self, row_id: int) -> TicketHelper | None: ...
    async def asked_on(self, ticket_id: int) -> Sequence[TicketHelper]: ...
    async def save_asked(self, row: TicketHelper) -> None: ...

    async def add_code(self, code: LinkCode) -> LinkCode: ...

    async def codes_since(self, resident_id: int, since: datetime) -> int:
        """Resident link codes made for this resident since then (a text-message limit)."""
        ...

    async def use_code(self, code_hash: str, *, now: datetime, channel: str) -> LinkCode | None:
        """Mark an unused, unexpired code used (one winner) and return it; else None."""
        ...

    async def identities_of(self, resident_id: int) -> Sequence[ChannelIdentity]: ...
    async def move_resident(self, from_id: int, to_id: int) -> None:
        """Point everything of resident ``from_id`` (identities, tickets, helper roles) at
        ``to_id``: a phone resident who linked the chat account of ``to_id``."""
        ...

    async def repoint_followers(
        self, channel: str, user_id: str, new_channel: str, new_user_id: str
    ) -> list[str]:
        """Follows of open tickets by one channel user move to another; returns the numbers."""
        ...

    async def tickets_reaching(self, channel: str, user_id: str) -> Sequence[Ticket]:
        """Tickets whose updates go to this channel user (ticket.channel/channel_user_id)."""
        ...
