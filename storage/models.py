"""SQLModel tables. Plain persistence: no domain rules live here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.model_types import UTCDateTime, _json, _json_list, _ts, utcnow
from storage.models_grid import Handoff, HandoffMessage, Hotspot, Notice, NoticeOptOut
from storage.models_people import BuildingHelper, HelperBuilding, LinkCode, TicketHelper
from storage.models_street import CityOrder, Street

__all__ = [
    "AdminToken",
    "AdminUser",
    "Attachment",
    "AuditLog",
    "Building",
    "BuildingHelper",
    "ChannelIdentity",
    "CityOrder",
    "Community",
    "Department",
    "DepartmentContact",
    "Grid",
    "GridWorker",
    "Handoff",
    "HandoffMessage",
    "HelperBuilding",
    "Hotspot",
    "InboundMessage",
    "LinkCode",
    "Mailbox",
    "NluActivation",
    "NluExample",
    "NluIntent",
    "NluJob",
    "NluLookup",
    "NluRegex",
    "NluSynonym",
    "Notice",
    "NoticeOptOut",
    "Outbox",
    "QrScene",
    "Resident",
    "ReviewDecision",
    "SessionEntry",
    "Street",
    "TaskCard",
    "Ticket",
    "TicketClock",
    "TicketCounter",
    "TicketDaily",
    "TicketEvent",
    "TicketFollower",
    "TicketHelper",
    "TicketParty",
    "UTCDateTime",
    "WorkerBindCode",
    "utcnow",
]

# the local days of ``TicketDaily`` (the triggers of migration 0021 compute them; no DST since 1991)
DAILY_ZONE = "Asia/Shanghai"


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    street: str = Field(default="", max_length=100)  # the street's name (kept with street_id)
    street_id: int | None = Field(default=None, foreign_key="street.id", index=True)
    hotline: str = Field(default="", max_length=40)
    settings: dict[str, Any] = _json()  # working hours etc.
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Grid(SQLModel, table=True):
    """A node of the grid tree: a grid (网格) or a micro-grid (微网格) under a community."""

    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    name: str = Field(max_length=100)
    level: str = Field(default="grid", max_length=20)  # grid | micro_grid


class Building(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name"),
        sa.Index(
            "ux_building_code",
            "code",
            unique=True,
            postgresql_where=sa.text("code <> ''"),
            sqlite_where=sa.text("code <> ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    name: str = Field(max_length=100)  # canonical: 3幢, B区5幢, 综合楼
    aliases: list[str] = _json_list()  # 3号楼, 三幢, 3栋 ...
    latitude: float | None = None
    longitude: float | None = None
    # printed on its stairwell QR code (WeChat scene_str): derived from the community's and
    # the building's names when created, kept when renamed, so rebuilding the registry (or
    # `minhu demo --reset`) gives the same building the same code
    code: str = Field(default="", max_length=64)


class QrScene(SQLModel, table=True):
    """A numeric QR scene printed before codes were stable (scene = the building's id then),
    mapped to the code of the building it was printed for. Survives registry rebuilds."""

    scene_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    building_code: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GridWorker(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    role: str = Field(
        default="grid_worker", max_length=30
    )  # grid_worker|grid_leader|community_staff|street_staff
    # street staff sit in one community of their street (their office) and act street-wide
    community_id: int = Field(foreign_key="community.id", index=True)
    street_id: int | None = Field(default=None, foreign_key="street.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    phone: str = Field(default="", max_length=30)
    on_duty: bool = True
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Resident(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=30)  # remembered for the next report
    community_id: int | None = Field(default=None, foreign_key="community.id")
    building_id: int | None = Field(default=None, foreign_key="building.id")
    unit: str = Field(default="", max_length=20)
    room: str = Field(default="", max_length=20)
    locale: str = Field(default="zh", max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChannelIdentity(SQLModel, table=True):
    """Who a platform user is: a resident, a worker, or both."""

    __table_args__ = (sa.UniqueConstraint("channel", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    user_id: str = Field(max_length=128)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    worker_id: int | None = Field(default=None, foreign_key="gridworker.id", index=True)
    priority: int = 0  # a worker's preferred channel first
    reachable: bool = True  # false once the platform says the user blocked/unsubscribed
    last_inbound_at: datetime | None = _ts()  # WeChat's 48-hour customer-service window
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- tickets --------------------------------------------------------------------------------


class TicketCounter(SQLModel, table=True):
    """Per-day sequence behind human ticket numbers (MH-YYYYMMDD-NNNN)."""

    day: str = Field(primary_key=True, max_length=8)
    last: int = 0


_OPEN_TICKET = sa.text(
    "status IN ('accepted', 'assigned', 'escalated', 'in_progress', 'reopened', "
    "'submitted', 'transferred')"
)


SEARCHED_COLUMNS = ("number", "description", "building_name", "location_note", "contact_phone")


class Ticket(SQLModel, table=True):
    __table_args__ = (
        sa.Index(
            "ux_ticket_source_message",
            "channel",
            "source_message_id",
            unique=True,
            postgresql_where=sa.text("source_message_id <> ''"),
            sqlite_where=sa.text("source_message_id <> ''"),
        ),
        # routing counts each worker's open tickets: a small index of open tickets only
        sa.Index(
            "ix_ticket_open_assignee",
            "assignee_id",
            postgresql_where=_OPEN_TICKET,
            sqlite_where=_OPEN_TICKET,
        ),
        sa.Index("ix_ticket_community_created", "community_id", "created_at"),
        sa.Index("ix_ticket_category_created", "category", "created_at"),  # Open311
        # the console's ILIKE '%…%' search: trigram GIN indexes on PostgreSQL only (SQLite,
        # the embedded default, scans); pg_trgm comes with migration 0015_city_indexes
        *(
            sa.Index(
                f"ix_ticket_{name}_trgm",
                name,
                postgresql_using="gin",
                postgresql_ops={name: "gin_trgm_ops"},
                info={"dialect": "postgresql"},  # see storage.db.schema_filter
            ).ddl_if(dialect="postgresql")
            for name in SEARCHED_COLUMNS
        ),
        # a search within one community: its key and the description's trigrams in one GIN
        # index (btree_gin, migration 0021_city_daily_search)
        sa.Index(
            "ix_ticket_community_description_trgm",
            "community_id",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
            info={"dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
        # the search's prefix look-ups of a ticket number ("MH-20261207…") and a phone number
        # (storage.admin_repositories._text_match): byte-order b-trees serve LIKE 'x%' under
        # any collation; SQLite scans
        *(
            sa.Index(
                f"ix_ticket_{name}_prefix",
                name,
                postgresql_ops={name: "text_pattern_ops"},
                info={"dialect": "postgresql"},
            ).ddl_if(dialect="postgresql")
            for name in ("number", "contact_phone")
        ),
        # the dashboard's month of tickets, read from the index alone (PostgreSQL's INCLUDE)
        sa.Index(
            "ix_ticket_dashboard",
            "created_at",
            postgresql_include=[
                "id",
                "community_id",
                "grid_id",
                "assignee_id",
                "category",
                "priority",
                "status",
                "rating",
                "accepted_at",
                "resolved_at",
            ],
            info={"dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(index=True, unique=True, max_length=32)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    category: str = Field(index=True, max_length=40)
    priority: str = Field(default="normal", max_length=10)  # urgent|high|normal|low
    status: str = Field(default="submitted", index=True, max_length=20)
    description: str = Field(default="", sa_type=sa.Text)  # the resident's own words
    building_id: int | None = Field(default=None, foreign_key="building.id", index=True)
    building_name: str = Field(default="", max_length=100)
    unit: str = Field(default="", max_length=20)
    room: str = Field(default="", max_length=20)
    location_note: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="gridworker.id", index=True)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    channel: str = Field(default="", max_length=20)  # where the resident reported ...
    channel_user_id: str = Field(default="", max_length=128)  # ... so updates go back there
    contact_phone: str = Field(default="", max_length=30)
    extra: dict[str, Any] = _json()  # plate, time expressions, NLU confidence ...
    rating: int | None = None
    rating_comment: str = Field(default="", max_length=500)
    reopen_count: int = 0
    # who holds it above the community: "" (the community), street (上报街道), city (12345)
    tier: str = Field(default="", max_length=10, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    assigned_at: datetime | None = _ts()
    accepted_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    # the platform message that filed it: one message files at most one ticket (unique
    # per channel, see migration 0007), so re-processing a message cannot file a second
    source_message_id: str = Field(default="", max_length=128)


class TicketDaily(SQLModel, table=True):
    """The dashboard's counts, kept by the database in step with every ticket change.

    One row per (local day the tickets were reported, community, figure, value): how many of
    that day's tickets of that community have that status / category / rating / day of
    resolution (grids are counted from the tickets with the medians: a city's 3,600 grids
    would add half as many rows again). Triggers on ``ticket`` (migration
    ``0021_city_daily_search``, PostgreSQL and SQLite) take a changed ticket's old values out
    and put its new ones in, in the ticket change's own transaction. The dashboard
    (``SqlTicketQueries.dashboard``) sums a month of these narrow rows (~170,000 for a
    5-million-ticket city: a community reports ~11 tickets a day) in one hashed pass instead
    of grouping ~130,000 tickets seven ways. Days are Asia/Shanghai's (``DAILY_ZONE``);
    ``community_id`` 0 stands for tickets without one.
    """

    day: date = Field(primary_key=True)
    community_id: int = Field(primary_key=True)
    dim: str = Field(primary_key=True, max_length=10)  # status|category|rating|resolved
    key: str = Field(primary_key=True, max_length=40)  # rating as text, resolved day ISO
    n: int = 0


class TicketEvent(SQLModel, table=True):
    """Append-only audit trail of a ticket."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=30)
    actor_type: str = Field(max_length=20)  # resident|worker|system|admin|department
    actor_id: str = Field(default="", max_length=64)
    actor_name: str = Field(default="", max_length=100)
    from_status: str = Field(default="", max_length=20)
    to_status: str = Field(default="", max_length=20)
    note: str = Field(default="", sa_type=sa.Text)
    data: dict[str, Any] = _json()


class Attachment(SQLModel, table=True):
    """A photo or file a resident or worker sent. Its bytes are in the object store under
    ``object_key`` (storage/objects.py), never in the database; ``content`` only holds the
    bytes of rows stored before 0016 until ``minhu objects move-photos`` moves them."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str = Field(default="image", max_length=20)
    mime: str = Field(default="application/octet-stream", max_length=100)
    filename: str = Field(default="", max_length=200)
    size: int = 0
    sha256: str = Field(default="", max_length=64)
    content: bytes = Field(default=b"", sa_type=sa.LargeBinary)
    object_key: str = Field(default="", max_length=300)
    channel: str = Field(default="", max_length=20)
    uploaded_by: str = Field(default="", max_length=64)  # resident:<id> / worker:<id>
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- messaging ------------------------------------------------------------------------------


class InboundMessage(SQLModel, table=True):
    """Every inbound message, persisted before processing (unique per platform message id)."""

    __table_args__ = (sa.UniqueConstraint("channel", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    message_id: str = Field(max_length=128)
    user_id: str = Field(max_length=128, index=True)
    payload: dict[str, Any] = _json()  # the Inbound as JSON
    status: str = Field(
        default="received", index=True, max_length=20
    )  # received|processing|done|failed
    replies: list[dict[str, Any]] = _json_list()
    intent: str = Field(default="", max_length=60)
    confidence: float | None = None
    error: str = Field(default="", sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    processed_at: datetime | None = _ts()
    # recovery (handlers.service.MinhuService.recover): tries so far, when the next one is
    # due, and a lease so one process at a time re-processes a row
    attempts: int = 0
    next_try_at: datetime | None = _ts()
    lease_until: datetime | None = _ts()


class Outbox(SQLModel, table=True):
    """Pending pushed messages. Written in the same transaction as the change they report."""

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20, index=True)
    recipient: str = Field(max_length=128)
    payload: dict[str, Any] = _json()  # an Outbound as JSON
    status: str = Field(default="pending", index=True, max_length=20)  # pending|sent|dead
    attempts: int = 0
    next_try_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    claimed_until: datetime | None = _ts()
    claim_token: str = Field(default="", max_length=40)
    last_error: str = Field(default="", sa_type=sa.Text)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    worker_id: int | None = Field(default=None, foreign_key="gridworker.id")
    platform_message_id: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = _ts()
    # 0 normal, 1 urgent (safety advice, urgent task cards): claimed first, retried fastest
    priority: int = 0
    # what this item delivers, e.g. ``reply:<inbound id>:<n>``: queued at most once
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True, index=True)
    notice_id: int | None = Field(default=None, index=True)  # a Notice it delivers
    # why a dead item died: gave_up (retried until the horizon) and window (could only go
    # once they write) are sent again when the recipient writes; unreachable (blocked,
    # invalid id) and refused (the platform said no for good) never are
    dead_reason: str = Field(default="", max_length=20)


class SessionEntry(SQLModel, table=True):
    """Conversation state, claims, values and lock leases while Redis is unreachable."""

    kind: str = Field(primary_key=True, max_length=10)  # state|claim|kv|lock
    key: str = Field(primary_key=True, max_length=300)
    value: str = Field(default="", sa_type=sa.Text)
    expires_at: datetime | None = _ts(index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Mailbox(SQLModel, table=True):
    """Messages pushed to web/CLI users, drained by GET /api/v1/messages (each once)."""

    __table_args__ = (sa.Index("ix_mailbox_user", "channel", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    user_id: str = Field(max_length=128)
    outbox_id: int | None = Field(default=None, unique=True)  # makes redelivery idempotent
    payload: dict[str, Any] = _json()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- ticket lifecycle: SLA clocks, followers, departments (issue 7) ---------------------------


class TicketClock(SQLModel, table=True):
    """A durable SLA timer of a ticket. It fires once when due, whichever process sweeps first.

    ``status``: pending → fired | cancelled (a move stopped it) | failed (gave up after errors).
    A sweeper claims due rows for a lease (``claim_token``/``claimed_until``) and fires a row by a
    conditional update (pending + its token → fired) in the same transaction as the effects.
    """

    __table_args__ = (sa.Index("ix_ticketclock_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=20)  # accept|accept_remind|resolve|resolve_remind|rating
    level: int = 0  # escalation level reached when it fires (1 grid leader, 2 community staff)
    status: str = Field(default="pending", max_length=12)
    due_at: datetime = Field(sa_type=UTCDateTime)
    deadline_at: datetime | None = _ts()  # a reminder's deadline
    target_seconds: int = 0  # the configured target behind it (for messages)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fired_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()
    attempts: int = 0
    claimed_until: datetime | None = _ts()
    claim_token: str = Field(default="", max_length=40)
    outcome: str = Field(default="", max_length=200)
    last_error: str = Field(default="", sa_type=sa.Text)


class TicketFollower(SQLModel, table=True):
    """A resident who follows a ticket's updates (same problem reported, or a merged ticket)."""

    __table_args__ = (sa.UniqueConstraint("ticket_id", "channel", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    channel: str = Field(max_length=20)
    user_id: str = Field(max_length=128)
    via: str = Field(default="duplicate", max_length=20)  # duplicate|merge
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Department(SQLModel, table=True):
    """A department or party a ticket can be handed to (城管, 交管, 物业, 业委会, 施工方 …)."""

    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    name: str = Field(max_length=50)
    kind: str = Field(default="other", max_length=30)
    aliases: list[str] = _json_list()
    phone: str = Field(default="", max_length=30)  # the office's public number
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DepartmentContact(SQLModel, table=True):
    """A department's reachable identity: pushes go there, its messages are recognised."""

    __table_args__ = (sa.UniqueConstraint("channel", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    channel: str = Field(max_length=20)
    user_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=50)
    priority: int = 0
    reachable: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketParty(SQLModel, table=True):
    """A department working on a ticket: the lead it was handed to, or a co-handler."""

    __table_args__ = (sa.UniqueConstraint("ticket_id", "department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    role: str = Field(default="lead", max_length=20)  # lead|cohandler
    status: str = Field(default="active", max_length=20)  # active|done
    added_by: str = Field(default="", max_length=100)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = _ts()


# --- messenger consoles: worker binding codes and editable task cards (issue 5) -------------


class WorkerBindCode(SQLModel, table=True):
    """A one-time code that binds a messenger account to a GridWorker.

    Only the SHA-256 of the code is stored: a database leak must not hand out live codes.
    A code is good until ``expires_at`` and exactly once (``used_at`` is set atomically).
    """

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    worker_id: int = Field(foreign_key="gridworker.id", index=True)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _ts()
    used_channel: str = Field(default="", max_length=20)
    used_user_id: str = Field(default="", max_length=128)


class TaskCard(SQLModel, table=True):
    """A task card a worker received on a platform that edits messages in place (Telegram).

    ``last_event_id`` is the newest TicketEvent the card shows; a newer event makes it stale
    and the channel re-renders it. ``fingerprint`` is a hash of what is on screen now, so an
    event that changes nothing visible does not cost an edit.
    """

    __table_args__ = (sa.UniqueConstraint("channel", "recipient", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=128)
    message_id: str = Field(max_length=128)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    worker_id: int | None = Field(default=None, foreign_key="gridworker.id")
    media: bool = False  # sent as a photo with a caption: edits change the caption
    last_event_id: int = 0
    fingerprint: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


# --- admin console: accounts, audit, DB-backed NLU training data, review ---------------------
# (issue 6; the console lives in bot/admin, its repositories in storage/admin_repositories.py)


class AdminUser(SQLModel, table=True):
    """A console user: ``admin`` (everything), ``community_staff`` (one community) or
    ``grid_worker`` (the tickets of one GridWorker)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(default="", max_length=100)
    password_hash: str = Field(sa_type=sa.Text)
    role: str = Field(max_length=20)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    worker_id: int | None = Field(default=None, foreign_key="gridworker.id", index=True)
    street_id: int | None = Field(default=None, foreign_key="street.id", index=True)
    active: bool = True
    failed_attempts: int = 0
    locked_until: datetime | None = _ts()
    last_login_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AdminToken(SQLModel, table=True):
    """A console session (cookie) or an API token (bearer). Only the secret's SHA-256 is kept."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="adminuser.id", index=True)
    kind: str = Field(max_length=10)  # session | api
    token_hash: str = Field(index=True, unique=True, max_length=64)
    csrf_token: str = Field(default="", max_length=64)  # sessions: the form token
    name: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()
    revoked: bool = False


class AuditLog(SQLModel, table=True):
    """Who changed what, when, with a before/after summary. Append-only."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, foreign_key="adminuser.id", index=True)
    username: str = Field(default="", max_length=64)
    action: str = Field(max_length=60, index=True)
    target_type: str = Field(default="", max_length=40)
    target_id: str = Field(default="", max_length=100)
    summary: str = Field(default="", sa_type=sa.Text)
    before: dict[str, Any] = _json()
    after: dict[str, Any] = _json()
    ip: str = Field(default="", max_length=64)


class NluIntent(SQLModel, table=True):
    """An intent of the training data kept in the database (edited in the console)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=60)
    description: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NluExample(SQLModel, table=True):
    """One training example: plain text plus entity annotations (start/end/entity/value)."""

    __table_args__ = (sa.UniqueConstraint("intent_id", "text"),)

    id: int | None = Field(default=None, primary_key=True)
    intent_id: int = Field(foreign_key="nluintent.id", index=True)
    text: str = Field(max_length=500)
    entities: list[dict[str, Any]] = _json_list()
    # a Rasa project's example metadata, kept so an import comes back out whole
    meta: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    source: str = Field(default="admin", max_length=20)  # seed | admin | import | review
    # the community whose resident said it (review promotions); None for our own examples.
    # Staff see only their own community's resident-derived examples.
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NluSynonym(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)  # the canonical value
    items: list[str] = _json_list()  # variants


class NluLookup(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=60)
    items: list[str] = _json_list()  # elements


class NluRegex(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=60)
    items: list[str] = _json_list()  # patterns (Python re)


class NluJob(SQLModel, table=True):
    """A job of the durable queue (``bot/jobqueue.py``): training, a CSV import, a notice
    broadcast, a privacy purge. Visible to every process while it runs (the console's
    training page lists them). The table kept the name it had when it held training only."""

    id: int | None = Field(default=None, primary_key=True)
    # train | import | registry | broadcast | purge
    kind: str = Field(default="train", max_length=10)
    status: str = Field(default="queued", index=True, max_length=10)  # queued|running|done|failed
    stage: str = Field(default="", max_length=60)
    progress: float = 0.0
    version: str = Field(default="", max_length=100)  # the candidate model version
    baseline_version: str = Field(default="", max_length=100)
    result: dict[str, Any] = _json()  # summary: macro-F1 of both, verdict
    error: str = Field(default="", sa_type=sa.Text)
    started_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    payload: dict[str, Any] = _json()  # what the worker needs (the training data snapshot ...)
    attempts: int = 0  # claims so far; a worker that died leaves its claim to expire
    max_attempts: int = 3
    lease_until: datetime | None = _ts()  # a running job's claim, renewed by its live worker
    worker: str = Field(default="", max_length=64)  # who holds the claim (host:pid)


class NluActivation(SQLModel, table=True):
    """Every activation of a model version (the history behind rollback)."""

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=100)
    previous: str = Field(default="", max_length=100)
    kind: str = Field(default="activate", max_length=10)  # activate | rollback
    forced: bool = False
    reason: str = Field(default="", sa_type=sa.Text)
    by: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ReviewDecision(SQLModel, table=True):
    """A review-inbox item that staff labelled (added to the examples) or dismissed."""

    __table_args__ = (sa.UniqueConstraint("source", "source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=10)  # inbound | ticket
    source_id: int
    action: str = Field(max_length=10)  # labelled | dismissed
    intent: str = Field(default="", max_length=60)
    example_id: int | None = None
    by: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
