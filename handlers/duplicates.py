"""Is a new report the same problem as one already being handled? (pure)

Twenty neighbours reporting one broken elevator must not make twenty tickets. A report is a
duplicate of an earlier open ticket of the same category in the same community when it is
about the same building, or — for outdoor categories where a building is only a landmark (a
car in the fire lane, rubbish, a hazard) — when both points lie within the category's radius.
Personal matters (disputes) and the catch-all category are never merged automatically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from handlers.address import haversine_m

DEFAULT_RADIUS_M: Mapping[str, float] = {
    "parking": 50.0,
    "sanitation": 30.0,
    "safety": 30.0,
    "illegal_construction": 30.0,
}


@dataclass(frozen=True, slots=True)
class DuplicatePolicy:
    """Attributes:
    enabled: offer "follow the existing ticket" at all.
    radius_m: per category, the distance within which two points are one problem (a
        category not listed matches by building only).
    exclude: categories never treated as duplicates.
    """

    enabled: bool = True
    radius_m: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RADIUS_M))
    exclude: frozenset[str] = frozenset({"dispute", "other"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a report or a ticket is: its building and the best coordinates known."""

    community_id: int | None
    building_id: int | None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True, slots=True)
class OpenTicket:
    number: str
    category: str
    place: Place
    reporter: tuple[str, str] = ("", "")  # (channel, user id)


def same_problem(category: str, new: Place, old: Place, policy: DuplicatePolicy) -> bool:
    if new.community_id is not None and old.community_id not in (None, new.community_id):
        return False
    if new.building_id is not None and new.building_id == old.building_id:
        return True
    radius = policy.radius_m.get(category, 0.0)
    if radius <= 0 or not (new.located and old.located):
        return False
    distance = haversine_m(
        new.latitude or 0.0, new.longitude or 0.0, old.latitude or 0.0, old.longitude or 0.0
    )
    return distance <= radius


def find_duplicate(
    category: str, place: Place, open_tickets: Sequence[OpenTicket], policy: DuplicatePolicy
) -> OpenTicket | None:
    """The oldest open ticket that is the same problem, if any.

    Args:
        category: the new report's category.
        place: where the new report is.
        open_tickets: open tickets of that category, oldest first.
        policy: radius and exclusions.
    """
    if not policy.enabled or category in policy.exclude:
        return None
    if place.building_id is None and not place.located:
        return None
    for ticket in open_tickets:
        if ticket.category == category and same_problem(category, place, ticket.place, policy):
            return ticket
    return None
