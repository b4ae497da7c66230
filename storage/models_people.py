"""Tables of the people around a building (issue 14, item 6) and of residents reached off
chat (item 4): building heads and volunteers, helpers asked on a ticket, and the one-time
codes that link a resident's chat account. Re-exported by ``storage.models``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.model_types import UTCDateTime, _ts, utcnow


class BuildingHelper(SQLModel, table=True):
    """A building head (楼栋长), unit head (单元长) or party-member volunteer (党员志愿者).

    Not a grid worker: they take no tasks and have no console account. They are reached in
    their own chat once they linked it (``resident_id``: the chat identity's resident).
    """

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=50)
    role: str = Field(max_length=20)  # building_head | unit_head | party_volunteer
    unit: str = Field(default="", max_length=20)  # a unit head's unit (1单元)
    phone: str = Field(default="", max_length=30)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HelperBuilding(SQLModel, table=True):
    """Which buildings a helper looks after (a volunteer may cover several)."""

    helper_id: int = Field(foreign_key="buildinghelper.id", primary_key=True)
    building_id: int = Field(foreign_key="building.id", primary_key=True, index=True)


class TicketHelper(SQLModel, table=True):
    """A helper asked on a ticket: to respond first (``assist``) or to confirm the fix
    (``verify``, asked when the ticket is resolved).

    ``status``: waiting (verify asked before resolution) → asked → answered; no_chat
    when they have linked no chat (the worker calls them).
    ``answer``: here / cannot (assist), fixed / not_fixed (verify).
    """

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    helper_id: int = Field(foreign_key="buildinghelper.id", index=True)
    purpose: str = Field(max_length=10)  # assist | verify
    status: str = Field(default="asked", max_length=10)
    answer: str = Field(default="", max_length=12)
    note: str = Field(default="", max_length=300)
    added_by: str = Field(default="", max_length=100)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    asked_at: datetime | None = _ts()
    answered_at: datetime | None = _ts()


class LinkCode(SQLModel, table=True):
    """A one-time code that links a chat account to a resident (a staff-made ticket's
    receipt) or to a building helper. Only its SHA-256 is kept; good once, until expiry."""

    __table_args__ = (sa.Index("ix_linkcode_resident", "resident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=10)  # resident | helper
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    helper_id: int | None = Field(default=None, foreign_key="buildinghelper.id")
    ticket_number: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _ts()
    used_channel: str = Field(default="", max_length=20)
