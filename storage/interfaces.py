"""The storage interfaces the rest of the app depends on (implemented in repositories.py).

The embedded backend is SQLite and the production one PostgreSQL: both run the same SQL
implementation, and tests/storage runs one contract suite against each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from storage.admin_types import (
    DashboardCounts,
    ExampleRow,
    ResolveTargets,
    TableKind,
    TicketFilter,
    TicketPage,
    TicketTiming,
)
from storage.grid_interfaces import HotspotRepository, NoticeRepository
from storage.lifecycle_interfaces import (
    ClockRepository,
    DepartmentRepository,
    FollowerRepository,
    TicketFinder,
)
from storage.models import (
    AdminToken,
    AdminUser,
    Attachment,
    AuditLog,
    Building,
    ChannelIdentity,
    Community,
    Grid,
    GridWorker,
    Handoff,
    HandoffMessage,
    InboundMessage,
    NluActivation,
    NluExample,
    NluIntent,
    NluJob,
    NluLookup,
    NluRegex,
    NluSynonym,
    Outbox,
    Resident,
    ReviewDecision,
    TaskCard,
    Ticket,
    TicketEvent,
    WorkerBindCode,
)
from storage.people_interfaces import PeopleRepository
from storage.state import SessionStore
from storage.street_interfaces import StreetRepository


@dataclass(frozen=True, slots=True)
class RoutingScope:
    """What routing a ticket can reach: the grids and workers of its communities (in that
    order, by id within each) and the street staff of their streets, with each worker's
    open-ticket count."""

    grids: list[Grid]
    workers: list[GridWorker]
    open_counts: dict[int, int]
    street_of: dict[int, int] = field(default_factory=dict)  # community id → street id


@dataclass(frozen=True, slots=True)
class NewInbound:
    """One arriving message for `InboundRepository.record_many`."""

    channel: str
    message_id: str
    user_id: str
    payload: dict[str, Any]


class RegistryRepository(Protocol):
    """Communities, grids, buildings, workers, residents and their channel identities."""

    async def communities(self, *, ids: Sequence[int] | None = None) -> Sequence[Community]:
        """Communities by id order: all, or those with the given ids."""
        ...

    async def community(self, community_id: int) -> Community | None: ...
    async def community_by_name(self, name: str) -> Community | None: ...
    async def grids(
        self, community_id: int | None = None, *, ids: Sequence[int] | None = None
    ) -> Sequence[Grid]:
        """Grids by id order: all, a community's, or those with the given ids."""
        ...

    async def grid(self, grid_id: int) -> Grid | None: ...
    async def fingerprint(self) -> str | None:
        """A digest of the communities and buildings, computed by the database: it changes
        when any of them does. None when the database cannot compute one (SQLite)."""
        ...

    async def buildings(
        self, community_id: int | None = None, *, ids: Sequence[int] | None = None
    ) -> Sequence[Building]:
        """Buildings by id order: all, a community's, or those with the given ids."""
        ...

    async def building(self, building_id: int) -> Building | None: ...
    async def building_by_code(self, code: str) -> Building | None: ...
    async def building_by_scene(self, scene: str) -> Building | None:
        """The building a stairwell QR code names: its code, or a recorded old numeric scene."""
        ...

    async def map_scene(self, scene_id: int, building_code: str) -> None:
        """Record that an old numeric QR scene was printed for the building with this code."""
        ...

    async def workers(
        self,
        community_id: int | None = None,
        *,
        street_ids: Sequence[int] | None = None,
        ids: Sequence[int] | None = None,
    ) -> Sequence[GridWorker]:
        """Workers by id order: all, a community's, those of the given streets, or those with
        the given ids."""
        ...

    async def worker(self, worker_id: int) -> GridWorker | None: ...
    async def routing_scope(self, community_id: int, grid_id: int | None) -> RoutingScope:
        """The community's (and ``grid_id``'s community's) grids, workers and street staff
        with their open-ticket counts, in two statements (routing runs on every new ticket)."""
        ...

    async def identity(self, channel: str, user_id: str) -> ChannelIdentity | None: ...
    async def worker_identities(self, worker_id: int) -> Sequence[ChannelIdentity]: ...
    async def resident(self, resident_id: int) -> Resident | None: ...

    async def ensure_resident(
        self, channel: str, user_id: str, *, locale: str = "zh", now: datetime | None = None
    ) -> tuple[Resident, ChannelIdentity]:
        """Return the resident behind a channel identity, creating both on first contact.

        Args:
            channel: the channel name.
            user_id: the platform user id.
            locale: the locale for a new resident.
            now: when set, recorded as the identity's last inbound time.
        """
        ...

    async def touch_identity(self, channel: str, user_id: str, now: datetime) -> None: ...
    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> None: ...

    async def bind_worker_identity(
        self, worker_id: int, channel: str, user_id: str, *, priority: int = 0
    ) -> ChannelIdentity: ...

    async def add(self, obj: Any) -> Any:
        """Insert a registry row and flush; raises DuplicateError on a unique clash."""
        ...

    async def save(self, obj: Any) -> None: ...
    async def delete_all(self) -> None: ...


class TicketRepository(Protocol):
    """Tickets, their human numbers and their append-only events."""

    async def next_number(self, day: str) -> str:
        """Allocate the next ``MH-<day>-NNNN`` atomically, even across processes."""
        ...

    async def add(self, ticket: Ticket) -> Ticket: ...
    async def save(self, ticket: Ticket) -> None: ...
    async def get(self, ticket_id: int) -> Ticket | None: ...
    async def by_number(self, number: str, *, for_update: bool = False) -> Ticket | None: ...
    async def lock(self, ticket_id: int) -> Ticket | None: ...

    async def for_resident(
        self, resident_id: int, *, statuses: Iterable[str] | None = None, limit: int = 20
    ) -> Sequence[Ticket]: ...

    async def for_resident_by_groups(
        self, resident_id: int, groups: Sequence[Iterable[str]], *, limit: int = 20
    ) -> list[list[Ticket]]:
        """``for_resident`` for each group of statuses, in one round trip."""
        ...

    async def for_worker(
        self, worker_id: int, *, statuses: Iterable[str] = ...
    ) -> Sequence[Ticket]: ...

    async def open_counts_by_worker(
        self, worker_ids: Sequence[int] | None = None
    ) -> dict[int, int]:
        """Open tickets per assignee (of ``worker_ids`` only, when given)."""
        ...

    async def add_event(self, event: TicketEvent) -> TicketEvent: ...
    async def events(self, ticket_id: int) -> Sequence[TicketEvent]: ...

    async def search(
        self, *, statuses: Iterable[str] | None = None, limit: int = 100, offset: int = 0
    ) -> Sequence[Ticket]: ...


class OutboxRepository(Protocol):
    """Pushed messages awaiting delivery."""

    async def enqueue(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        ticket_id: int | None = None,
        worker_id: int | None = None,
    ) -> Outbox:
        """Queue a message in the current transaction (it is sent only if that commits)."""
        ...

    async def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[Outbox]:
        """Claim due items for a lease; concurrent callers get disjoint items."""
        ...

    async def mark_sent(
        self, item_id: int, token: str, *, now: datetime, platform_message_id: str = ""
    ) -> None: ...

    async def mark_retry(
        self, item_id: int, token: str, *, error: str, next_try_at: datetime
    ) -> Outbox: ...

    async def release(self, item_id: int, token: str) -> None: ...
    async def mark_dead(
        self, item_id: int, token: str, *, error: str, status: str = "dead", reason: str = "refused"
    ) -> None:
        """Stop trying: ``dead``, or ``rerouted`` when another channel carries it.

        ``reason`` (of a dead item): ``gave_up`` or ``window`` (sent again when the recipient
        writes), ``unreachable`` or ``refused`` (permanent: never sent again by itself).
        """
        ...

    async def get(self, item_id: int) -> Outbox | None: ...
    async def items(self, *, status: str | None = None, limit: int = 1000) -> Sequence[Outbox]: ...
    async def next_due_at(self) -> datetime | None: ...


class MailboxRepository(Protocol):
    """Per-user mailboxes of the web and CLI channels."""

    async def deliver(
        self,
        channel: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        outbox_id: int | None,
        now: datetime,
    ) -> None:
        """Put a message in a mailbox; idempotent per outbox item."""
        ...

    async def drain(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        """Take every waiting message, oldest first; each is returned exactly once."""
        ...

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: empty sent outbox rows and delete mailbox rows older than ``cutoff``."""
        ...


class InboundRepository(Protocol):
    """The log of inbound messages, written before processing."""

    async def record(
        self,
        channel: str,
        message_id: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> tuple[InboundMessage, bool]:
        """Store a message unless its (channel, message_id) exists; say whether it is new."""
        ...

    async def record_many(
        self, messages: Sequence[NewInbound], *, now: datetime
    ) -> list[tuple[InboundMessage, bool]]:
        """`record` for many messages in one INSERT; results in the order given.

        A message whose key exists (or repeats an earlier one of the same call) is not
        stored again: its stored row comes back with ``False``.
        """
        ...

    async def get(self, inbound_id: int) -> InboundMessage | None: ...

    async def by_message_id(self, channel: str, message_id: str) -> InboundMessage | None:
        """The message with this platform id (the unique key), or None."""
        ...

    async def update(
        self,
        inbound_id: int,
        *,
        status: str,
        now: datetime,
        replies: list[dict[str, Any]] | None = None,
        intent: str | None = None,
        confidence: float | None = None,
        error: str | None = None,
    ) -> None: ...

    async def recent_for_user(
        self, channel: str, user_id: str, *, limit: int = 20
    ) -> Sequence[InboundMessage]: ...

    async def with_status(self, status: str, *, limit: int = 100) -> Sequence[InboundMessage]: ...

    async def anonymise_before(self, cutoff: datetime) -> int:
        """Retention: forget the text, replies and sender of messages received before."""
        ...


class RecoveryRepository(Protocol):
    """Leased re-processing of inbound messages, once-only outbox items, dead letters."""

    async def claim_inbound(
        self,
        now: datetime,
        *,
        stuck_before: datetime,
        limit: int,
        lease_seconds: float,
        max_attempts: int,
    ) -> list[InboundMessage]:
        """Lease the oldest failed-and-due or stuck messages (one process at a time each)."""
        ...

    async def mark_failed(
        self, inbound_id: int, *, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """Record a failure unless the message is done; False when it was done."""
        ...

    async def release_inbound(self, inbound_id: int) -> None: ...
    async def unfinished(self, *, limit: int = 1000) -> Sequence[InboundMessage]: ...
    async def ticket_from(self, channel: str, message_id: str) -> Ticket | None: ...

    async def enqueue_once(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        key: str,
        priority: int = 0,
    ) -> bool:
        """Queue an item unless one with this key was ever queued; True when queued now."""
        ...

    async def welcome_back(self, channel: str, recipient: str, now: datetime) -> int:
        """``set_reachable``, ``wake`` and ``resurrect`` at once; outbox items due now."""
        ...

    async def welcome_back_many(self, senders: Sequence[tuple[str, str]], now: datetime) -> int:
        """`welcome_back` for many (channel, recipient) pairs in one statement."""
        ...

    async def dead_letters(self, *, limit: int = 200) -> Sequence[Outbox]: ...
    async def delivery_counts(self) -> dict[str, int]: ...
    async def requeue(self, item_id: int, now: datetime) -> bool: ...


class AttachmentRepository(Protocol):
    async def add(
        self,
        content: bytes,
        *,
        kind: str,
        mime: str,
        channel: str,
        uploaded_by: str,
        filename: str = "",
        ticket_id: int | None = None,
        now: datetime,
    ) -> Attachment: ...

    async def get(self, attachment_id: int) -> Attachment | None: ...

    async def content(self, item: Attachment) -> bytes:
        """The photo's bytes from the object store (empty once retention purged them)."""
        ...

    async def move_to_objects(self, *, limit: int = 100) -> int:
        """Move up to ``limit`` photos stored in rows (before 0016) to the object store."""
        ...

    async def attach(self, attachment_ids: Iterable[int], ticket_id: int) -> None: ...
    async def for_ticket(self, ticket_id: int) -> Sequence[Attachment]: ...

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: delete the bytes of photos stored before ``cutoff``."""
        ...


class BindCodeRepository(Protocol):
    """One-time codes that bind a messenger account to a grid worker (stored hashed)."""

    async def add(
        self,
        code_hash: str,
        worker_id: int,
        *,
        now: datetime,
        expires_at: datetime,
        created_by: str = "",
    ) -> WorkerBindCode:
        """Store a new code; raises DuplicateError if the hash exists (practically never)."""
        ...

    async def by_hash(self, code_hash: str) -> WorkerBindCode | None: ...

    async def use(self, code_id: int, *, now: datetime, channel: str, user_id: str) -> bool:
        """Mark a code used if it is unused and unexpired at ``now``.

        Atomic (one conditional UPDATE): of any number of concurrent callers, in any number
        of processes, exactly one gets ``True``.
        """
        ...


class TaskCardRepository(Protocol):
    """Task cards on platforms that edit messages in place, keyed by the platform message."""

    async def record(self, card: TaskCard) -> None:
        """Remember a sent card; recording the same platform message again is a no-op."""
        ...

    async def for_message(self, channel: str, recipient: str, message_id: str) -> TaskCard | None:
        """The card a platform message is (e.g. the message a worker replied to), if any."""
        ...

    async def stale(
        self,
        channel: str,
        *,
        since: datetime,
        recipient: str | None = None,
        limit: int = 50,
    ) -> list[tuple[TaskCard, Ticket, int]]:
        """Cards created after ``since`` whose ticket has events newer than the card shows.

        Returns:
            ``(card, ticket, newest event id)`` per stale card, oldest card first.
        """
        ...

    async def rendered(
        self, card_id: int, *, previous_event_id: int, event_id: int, fingerprint: str
    ) -> bool:
        """Move a card to ``event_id`` if it still shows ``previous_event_id``.

        Returns True for exactly one of several concurrent refreshers: only that one edits.
        """
        ...


# --- admin console (issue 6) ------------------------------------------------------------------


class AdminRepository(Protocol):
    """Console users, their sessions and API tokens, the audit log and review decisions."""

    async def users(self) -> Sequence[AdminUser]: ...
    async def user(self, user_id: int) -> AdminUser | None: ...
    async def user_by_name(self, username: str) -> AdminUser | None: ...

    async def add_user(self, user: AdminUser) -> AdminUser:
        """Insert a user; raises DuplicateError when the username is taken."""
        ...

    async def save_user(self, user: AdminUser) -> None: ...
    async def add_token(self, token: AdminToken) -> AdminToken: ...
    async def token_by_hash(self, token_hash: str) -> AdminToken | None: ...
    async def save_token(self, token: AdminToken) -> None: ...
    async def tokens(self, user_id: int, *, kind: str | None = None) -> Sequence[AdminToken]: ...

    async def revoke_tokens(self, user_id: int, *, kind: str | None = None) -> int:
        """Revoke a user's live tokens (all, or of one kind); returns how many."""
        ...

    async def add_audit(self, entry: AuditLog) -> AuditLog: ...

    async def audit(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action: str | None = None,
        username: str | None = None,
    ) -> tuple[Sequence[AuditLog], int]:
        """Audit entries, newest first, and how many match in all."""
        ...

    async def decision(self, source: str, source_id: int) -> ReviewDecision | None: ...
    async def decided(self, source: str, source_ids: Sequence[int]) -> set[int]: ...

    async def add_decision(self, decision: ReviewDecision) -> ReviewDecision:
        """Record a review decision; DuplicateError if the item was reviewed already."""
        ...

    async def delete_row(self, obj: Any) -> None:
        """Delete a registry row; DuplicateError when something still references it."""
        ...

    async def references(self, column: str, row_id: int) -> int:
        """How many rows point at a ``community``, ``grid``, ``building`` or ``worker``."""
        ...

    async def set_worker_identities(
        self, worker_id: int, identities: Sequence[tuple[str, str]]
    ) -> None:
        """Bind exactly these (channel, user_id) pairs to the worker, preferred first;
        DuplicateError when one belongs to another worker."""
        ...


class NluDataRepository(Protocol):
    """The NLU training data kept in the database, training jobs and model activations."""

    async def intents(self) -> Sequence[NluIntent]: ...
    async def example_counts(self) -> dict[int, int]: ...
    async def intent(self, intent_id: int) -> NluIntent | None: ...
    async def intent_by_name(self, name: str) -> NluIntent | None: ...
    async def add_intent(self, intent: NluIntent) -> NluIntent: ...
    async def save_intent(self, intent: NluIntent) -> None: ...

    async def delete_intent(self, intent_id: int) -> int:
        """Delete an intent with its examples; returns the number of examples deleted."""
        ...

    async def examples(self, intent_id: int | None = None) -> Sequence[NluExample]: ...
    async def all_examples(self) -> list[ExampleRow]: ...
    async def example(self, example_id: int) -> NluExample | None: ...
    async def add_example(self, example: NluExample) -> NluExample: ...

    async def insert_examples(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert many examples at once (intent_id, text, entities, source, created_by,
        created_at); DuplicateError when one exists."""
        ...

    async def save_example(self, example: NluExample) -> None: ...
    async def delete_example(self, example_id: int) -> None: ...
    async def intents_with_text(self, text: str) -> list[str]: ...

    async def shared_texts(self) -> dict[str, list[str]]:
        """Example texts found under more than one intent, with those intents."""
        ...

    async def table_rows(self, kind: TableKind) -> Sequence[NluSynonym | NluLookup | NluRegex]: ...

    async def table_row(
        self, kind: TableKind, row_id: int
    ) -> NluSynonym | NluLookup | NluRegex | None: ...

    async def table_row_by_name(
        self, kind: TableKind, name: str
    ) -> NluSynonym | NluLookup | NluRegex | None: ...

    async def save_table_row(self, row: NluSynonym | NluLookup | NluRegex) -> None: ...
    async def delete_table_row(self, kind: TableKind, row_id: int) -> None: ...
    async def is_empty(self) -> bool: ...
    async def clear(self) -> None: ...
    async def add_job(self, job: NluJob) -> NluJob: ...
    async def job(self, job_id: int) -> NluJob | None: ...
    async def jobs(self, *, limit: int = 20) -> Sequence[NluJob]: ...
    async def unfinished_jobs(self) -> Sequence[NluJob]: ...
    async def save_job(self, job: NluJob) -> None: ...

    async def claim_job(
        self, *, now: datetime, lease_until: datetime, worker: str, kinds: Sequence[str]
    ) -> NluJob | None:
        """Claim the oldest queued job (or one whose worker's lease expired) for ``worker``;
        at most one caller wins each job."""
        ...

    async def renew_job(
        self,
        job_id: int,
        *,
        worker: str,
        now: datetime,
        lease_until: datetime,
        stage: str,
        progress: float,
    ) -> bool:
        """Extend a claim and record progress; False when ``worker`` no longer holds it."""
        ...

    async def add_activation(self, activation: NluActivation) -> NluActivation: ...
    async def activations(self, *, limit: int = 50) -> Sequence[NluActivation]: ...


class TicketQueryRepository(Protocol):
    """Read-only ticket queries: filtered lists, counts, timings, review candidates."""

    async def search(
        self, f: TicketFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[Ticket], int]:
        """Tickets matching the filter, newest first, and how many match in all."""
        ...

    async def page(
        self, f: TicketFilter, *, limit: int = 50, offset: int = 0, count_up_to: int = 1000
    ) -> TicketPage:
        """A page of the tickets matching the filter, newest first; matches are counted up to
        ``count_up_to`` (or to the end of this page, if further), then ``more`` is set."""
        ...

    async def count_by(self, f: TicketFilter, column: str) -> dict[Any, int]: ...
    async def timings(self, f: TicketFilter) -> list[TicketTiming]: ...

    async def dashboard(
        self,
        f: TicketFilter,
        *,
        open_statuses: Sequence[str],
        targets: ResolveTargets,
        zone: str,
    ) -> DashboardCounts:
        """Counts, medians and daily trend of the filtered tickets (days in ``zone``), in one
        pass over them; the rows never leave the database on PostgreSQL."""
        ...

    async def recategorised(
        self, f: TicketFilter, *, limit: int = 200
    ) -> list[tuple[Ticket, TicketEvent]]: ...

    async def inbound_for_user(
        self, channel: str, user_id: str, *, since: datetime, until: datetime, limit: int = 30
    ) -> Sequence[InboundMessage]: ...

    async def unsure_inbound(
        self,
        *,
        threshold: float,
        since: datetime,
        community_ids: tuple[int, ...] | None = None,
        limit: int = 200,
    ) -> Sequence[InboundMessage]: ...


class HandoffRepository(Protocol):
    """Residents handed to staff (转人工) and the messages of each handoff."""

    async def save(self, handoff: Handoff) -> Handoff: ...

    async def get(self, handoff_id: int) -> Handoff | None: ...

    async def open_for(self, channel: str, user_id: str) -> Handoff | None:
        """The chat user's waiting or taken handoff, if any."""
        ...

    async def listing(
        self,
        *,
        statuses: Sequence[str],
        community_ids: Sequence[int] | None = None,
        limit: int = 200,
    ) -> Sequence[Handoff]:
        """Handoffs in these statuses (of these communities; None: all), newest first."""
        ...

    async def add_message(self, message: HandoffMessage) -> HandoffMessage: ...

    async def messages(self, handoff_id: int, *, after: int = 0) -> Sequence[HandoffMessage]:
        """The handoff's messages with an id above ``after``, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction with every repository bound to it.

    ``queued`` counts outbox items queued in this unit (callers bump it), so the caller knows
    to wake the dispatcher after commit.
    """

    queued: int

    @property
    def registry(self) -> RegistryRepository: ...
    @property
    def tickets(self) -> TicketRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def mailbox(self) -> MailboxRepository: ...
    @property
    def inbound(self) -> InboundRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def clocks(self) -> ClockRepository: ...
    @property
    def followers(self) -> FollowerRepository: ...
    @property
    def departments(self) -> DepartmentRepository: ...
    @property
    def finder(self) -> TicketFinder: ...
    @property
    def bind_codes(self) -> BindCodeRepository: ...
    @property
    def cards(self) -> TaskCardRepository: ...
    @property
    def admin(self) -> AdminRepository: ...
    @property
    def nlu_data(self) -> NluDataRepository: ...
    @property
    def ticket_queries(self) -> TicketQueryRepository: ...
    @property
    def recovery(self) -> RecoveryRepository: ...
    @property
    def handoffs(self) -> HandoffRepository: ...
    @property
    def notices(self) -> NoticeRepository: ...
    @property
    def hotspots(self) -> HotspotRepository: ...
    @property
    def streets(self) -> StreetRepository: ...
    @property
    def people(self) -> PeopleRepository: ...

    async def commit(self) -> None: ...


class Store(Protocol):
    """Hands out units of work: ``async with store.unit() as uow`` commits on success."""

    def unit(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


__all__ = [
    "AdminRepository",
    "AttachmentRepository",
    "BindCodeRepository",
    "ClockRepository",
    "DepartmentRepository",
    "FollowerRepository",
    "InboundRepository",
    "MailboxRepository",
    "NewInbound",
    "NluDataRepository",
    "OutboxRepository",
    "RecoveryRepository",
    "RegistryRepository",
    "SessionStore",
    "Store",
    "TaskCardRepository",
    "TicketFinder",
    "TicketQueryRepository",
    "TicketRepository",
    "UnitOfWork",
]
