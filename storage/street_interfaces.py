"""Repository interface of the street level (issue 14): streets and 12345 hand-offs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from storage.models import CityOrder, Community, Street


class StreetRepository(Protocol):
    """Streets (街道), the communities under them, and work orders handed to 12345."""

    async def all(self) -> Sequence[Street]:
        """Every street, by name."""
        ...

    async def get(self, street_id: int) -> Street | None: ...
    async def by_name(self, name: str) -> Street | None: ...
    async def save(self, street: Street) -> Street: ...
    async def communities(self, street_id: int) -> Sequence[Community]:
        """The communities of a street, by name."""
        ...

    async def add_order(self, order: CityOrder) -> CityOrder: ...
    async def order(self, order_id: int, *, for_update: bool = False) -> CityOrder | None: ...
    async def order_by_no(self, order_no: str, *, for_update: bool = False) -> CityOrder | None:
        """The hand-off 12345 acknowledged with this work-order number."""
        ...

    async def orders_for(self, ticket_id: int) -> Sequence[CityOrder]:
        """A ticket's hand-offs, oldest first."""
        ...

    async def orders(
        self, *, community_ids: Sequence[int] | None, limit: int = 500
    ) -> Sequence[CityOrder]:
        """Newest first; ``community_ids`` (of the tickets) None does not restrict."""
        ...
