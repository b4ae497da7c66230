"""Tables of the street level (issue 14): streets (街道) above communities, and the hand-off
records of tickets forwarded to the city's 12345 hotline. Re-exported by ``storage.models``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.model_types import UTCDateTime, _json, _ts, utcnow


class Street(SQLModel, table=True):
    """A street office (街道): the registry level above communities.

    ``Community.street_id`` points here; ``Community.street`` keeps the street's name as
    text (notices are addressed to a street by its name) and is written with the id.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    district: str = Field(default="", max_length=100)  # 区, the level 12345 dispatches from
    hotline: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CityOrder(SQLModel, table=True):
    """A ticket handed from the street to the city's 12345 hotline (an outbound work order).

    ``payload`` is the work order exactly as sent (masked where it must be); ``status``:
    queued → acknowledged (12345 answered with ``order_no``) → replied → closed, or failed
    when the delivery was given up.
    """

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    street_id: int | None = Field(default=None, foreign_key="street.id", index=True)
    status: str = Field(default="queued", max_length=20, index=True)
    order_no: str = Field(default="", max_length=64, index=True)  # 12345's work-order number
    payload: dict[str, Any] = _json()
    contact_shared: bool = False  # the resident's phone went along (they consented)
    created_by: str = Field(default="", max_length=100)
    last_reply: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    acknowledged_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
