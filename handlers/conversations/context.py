"""What the conversations share: the cached building registry and task summaries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from handlers.address import BuildingIndex, BuildingRef
from handlers.flows import category_label
from handlers.i18n import status_text, t
from handlers.ticket_service import facts_of
from nlu.types import BuildingHint, Hints
from storage.interfaces import Store
from storage.models import Building, Community, Ticket


@dataclass(slots=True)
class Registry:
    """The community's buildings (for the dialogue) and the NLU's hints, as of ``loaded``."""

    buildings: BuildingIndex
    hints: Hints
    loaded: float
    fingerprint: str | None = None  # the database's digest of what was loaded


class RegistryCache:
    """Buildings and hints loaded at most every ``ttl_seconds`` (the registry rarely changes).

    Args:
        store: units of work over the database.
        ttl_seconds: how long a loaded registry is used before it is read again.
    """

    def __init__(self, store: Store, ttl_seconds: float) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._cached: Registry | None = None

    def invalidate(self) -> None:
        """Forget the cached registry: the next ``get`` reads it again."""
        self._cached = None

    async def get(self) -> Registry:
        """The registry, from the cache while it is fresh."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached.loaded < self.ttl_seconds:
            return cached
        async with self.store.unit() as uow:
            fingerprint = await uow.registry.fingerprint()
            if cached is not None and fingerprint is not None and fingerprint == cached.fingerprint:
                # nothing changed since the last load: keep the index, skip the reload
                self._cached = replace(cached, loaded=time.monotonic())
                return self._cached
            communities = await uow.registry.communities()
            rows = await uow.registry.buildings()
        # indexing a city's buildings takes a few hundred ms: not on the event loop
        found = await asyncio.to_thread(_registry, communities, rows)
        self._cached = replace(found, fingerprint=fingerprint)
        return self._cached


def _registry(communities: Sequence[Community], rows: Sequence[Building]) -> Registry:
    names = {c.id: c.name for c in communities}
    streets = {c.id: c.street for c in communities}
    buildings = BuildingIndex(
        [
            BuildingRef(
                id=b.id or 0,
                name=b.name,
                aliases=tuple(b.aliases or ()),
                community_id=b.community_id,
                community=names.get(b.community_id, ""),
                grid_id=b.grid_id,
                latitude=b.latitude,
                longitude=b.longitude,
                street=streets.get(b.community_id, ""),
            )
            for b in rows
        ]
    )
    hints = Hints(
        buildings=tuple(BuildingHint(b.name, b.aliases, b.community) for b in buildings),
        communities=tuple(names.values()),
    )
    return Registry(buildings, hints, time.monotonic())


def task_line(ticket: Ticket, locale: str) -> str:
    """One line of a worker's or a department's task list."""
    return t(
        "worker.task_line",
        locale,
        number=ticket.number,
        category=category_label(ticket.category, locale),
        urgent=t("task.urgent", locale) if ticket.priority == "urgent" else "",
        location=facts_of(ticket).location(locale),
        status=status_text(ticket.status, locale),
    )
