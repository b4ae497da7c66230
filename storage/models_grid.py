"""Tables of the live handoff inbox (issue 16) and of the whole grid: notices and hotspots
(issue 14). Re-exported by ``storage.models``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.model_types import UTCDateTime, _json_list, _ts, utcnow

# --- live handoff: a resident talking to community staff (issue 16) -------------------------


class Handoff(SQLModel, table=True):
    """A resident who asked for a person (转人工), waiting for or talking with staff.

    ``status``: waiting (nobody has taken it) → taken (a staff member answers) → closed
    (handed back to the bot). At most one open handoff per chat user.
    """

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    user_id: str = Field(max_length=128, index=True)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    status: str = Field(default="waiting", max_length=10, index=True)
    reason: str = Field(default="asked", max_length=20)  # asked | bot_stuck
    phone: str = Field(default="", max_length=40)
    note: str = Field(default="", sa_type=sa.Text)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    taken_at: datetime | None = _ts()
    taken_by: int | None = Field(default=None, foreign_key="adminuser.id")
    taken_by_name: str = Field(default="", max_length=100)
    closed_at: datetime | None = _ts()
    ticket_number: str = Field(default="", max_length=40)
    last_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HandoffMessage(SQLModel, table=True):
    """One line of a handoff: from the resident, from staff, or a note of what happened."""

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: int = Field(foreign_key="handoff.id", index=True)
    sender: str = Field(max_length=10)  # resident | staff | system
    author: str = Field(default="", max_length=100)
    text: str = Field(default="", sa_type=sa.Text)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- the whole grid (issue 14): notices to residents ------------------------------------------


class Notice(SQLModel, table=True):
    """A notice staff publish to residents of a building, grid, community or street.

    ``scope`` is ``building`` | ``grid`` | ``community`` | ``street`` and ``scope_id`` its id
    (a street by its name in ``street``: streets are the communities' ``street`` field).
    ``recipients``, ``unreachable`` and ``opted_out`` are counted when it is published; what
    was sent or failed is read from its outbox rows (``Outbox.notice_id``).
    """

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=20)
    scope_id: int | None = None
    street: str = Field(default="", max_length=100)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    scope_name: str = Field(default="", max_length=200)  # "阳光花园社区 5幢", for people
    category: str = Field(default="other", max_length=20, index=True)
    text: str = Field(sa_type=sa.Text)
    starts_at: datetime | None = _ts()
    ends_at: datetime | None = _ts(index=True)
    status: str = Field(default="active", max_length=12)  # active | withdrawn
    recipients: int = 0
    unreachable: int = 0
    opted_out: int = 0
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class NoticeOptOut(SQLModel, table=True):
    """A resident who turned notices off (关闭通知); deleted when they turn them on again."""

    resident_id: int = Field(foreign_key="resident.id", primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Hotspot(SQLModel, table=True):
    """A cluster of reports about the same problem in one place that crossed a threshold.

    ``key`` names the cluster (rule, place, category); one row per key and window, so the
    leader and staff are alerted once per cluster while it grows.
    """

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, index=True)
    rule: str = Field(max_length=20)  # building | grid
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    building_id: int | None = Field(default=None, foreign_key="building.id")
    place: str = Field(default="", max_length=200)
    category: str = Field(max_length=40)
    count: int = 0
    numbers: list[str] = _json_list()
    first_at: datetime = Field(sa_type=UTCDateTime)
    last_at: datetime = Field(sa_type=UTCDateTime, index=True)
    alerted_at: datetime | None = _ts()
    alerted: list[str] = _json_list()  # who was told (names)
