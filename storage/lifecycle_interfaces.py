"""Storage interfaces of the ticket lifecycle (issue 7): SLA clocks, followers, departments and
finding open tickets. Implemented in clock_repository.py and ticket_repositories.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from storage.models import (
    Department,
    DepartmentContact,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketFollower,
    TicketParty,
)


class ClockRepository(Protocol):
    """Durable SLA clocks. Claiming and firing are safe with several processes sweeping."""

    async def add(self, clock: TicketClock) -> TicketClock: ...
    async def save(self, clock: TicketClock) -> None: ...

    async def cancel(self, ticket_id: int, kinds: Iterable[str] | None, *, now: datetime) -> int:
        """Cancel a ticket's pending clocks of these kinds (all when None); returns how many."""
        ...

    async def for_ticket(
        self, ticket_id: int, *, status: str | None = None
    ) -> Sequence[TicketClock]: ...

    async def pending_for_tickets(
        self, ticket_ids: Iterable[int], kind: str
    ) -> dict[int, TicketClock]:
        """The earliest pending clock of a kind per ticket."""
        ...

    async def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float
    ) -> list[TicketClock]:
        """Lease up to ``limit`` due pending clocks, oldest due first.

        Concurrent callers (other processes) get disjoint rows: PostgreSQL skips rows another
        transaction holds (``FOR UPDATE SKIP LOCKED``); a leased row is not claimed again until
        its lease runs out (the claimer crashed). Each call stamps a fresh ``claim_token``.
        """
        ...

    async def fire(self, clock_id: int, token: str, *, now: datetime) -> TicketClock | None:
        """Mark a claimed clock fired, only if it is still pending and still ours.

        The conditional update is the exactly-once guard: of two processes racing for the same
        row only one gets it back; the caller applies the effects in the same transaction.
        """
        ...

    async def settle_expired(
        self,
        clock_ids: Iterable[int],
        token: str,
        *,
        kinds: Iterable[str],
        now: datetime,
        outcome: str,
    ) -> list[int]:
        """Mark claimed clocks of these kinds whose ``deadline_at`` has passed as fired with
        ``outcome``, in one statement (reminders found stale after downtime); returns their ids."""
        ...

    async def retry(
        self, clock_id: int, token: str, *, error: str, retry_at: datetime, give_up: bool
    ) -> None:
        """Record a failed firing: try again at ``retry_at`` or mark it failed for good."""
        ...

    async def counts(self) -> dict[str, int]:
        """Clocks per status (monitoring)."""
        ...

    async def next_due_at(self) -> datetime | None: ...


class FollowerRepository(Protocol):
    """Residents following a ticket besides its reporter."""

    async def add(
        self,
        ticket_id: int,
        channel: str,
        user_id: str,
        *,
        resident_id: int | None,
        via: str,
        now: datetime,
    ) -> bool:
        """Follow a ticket; False when this identity follows it already."""
        ...

    async def for_ticket(self, ticket_id: int) -> Sequence[TicketFollower]: ...

    async def followed_tickets(
        self, channel: str, user_id: str, *, statuses: Iterable[str] | None = None
    ) -> Sequence[Ticket]: ...

    async def copy(self, from_ticket: int, to_ticket: int, *, via: str, now: datetime) -> int:
        """Make every follower of one ticket a follower of another; returns how many were new."""
        ...


class DepartmentRepository(Protocol):
    """The registry of departments/parties and their part in tickets."""

    async def add(self, department: Department) -> Department:
        """Insert and flush; raises DuplicateError when the name exists in that community."""
        ...

    async def add_contact(self, contact: DepartmentContact) -> DepartmentContact: ...
    async def get(self, department_id: int) -> Department | None: ...

    async def for_community(
        self, community_id: int | None = None, *, active_only: bool = True
    ) -> Sequence[Department]:
        """Departments serving a community (its own and the street-wide ones)."""
        ...

    async def contacts(self, department_id: int) -> Sequence[DepartmentContact]: ...

    async def by_contact(
        self, channel: str, user_id: str
    ) -> tuple[Department, DepartmentContact] | None: ...

    async def add_party(
        self, ticket_id: int, department_id: int, *, role: str, added_by: str, now: datetime
    ) -> tuple[TicketParty, bool]:
        """Involve a department in a ticket; an existing involvement is returned (and updated
        from co-handler to lead when asked), with ``False``."""
        ...

    async def parties(self, ticket_id: int) -> Sequence[TicketParty]: ...
    async def save_party(self, party: TicketParty) -> None: ...

    async def active_tickets(
        self, department_id: int, *, statuses: Iterable[str]
    ) -> Sequence[Ticket]: ...


class TicketFinder(Protocol):
    """Read queries over tickets for duplicates, supervisors and the Open311 API."""

    async def open_similar(
        self,
        *,
        community_id: int | None,
        category: str,
        building_id: int | None,
        statuses: Iterable[str],
        limit: int = 200,
    ) -> Sequence[Ticket]:
        """Open tickets of a category in a community: same building, or with coordinates."""
        ...

    async def requests(
        self,
        *,
        numbers: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        statuses: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> Sequence[Ticket]:
        """Tickets by number or by category/creation time/status, newest first."""
        ...

    async def events_for(
        self, ticket_ids: Iterable[int], kinds: Iterable[str]
    ) -> dict[int, list[TicketEvent]]:
        """Events of these kinds per ticket, oldest first."""
        ...

    async def escalated(
        self, community_id: int, *, statuses: Iterable[str]
    ) -> Sequence[Ticket]: ...
