"""What the SQL repositories share: the open statuses, Core tables and dialect INSERTs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

OPEN_STATUSES = (
    "submitted",
    "assigned",
    "accepted",
    "in_progress",
    "transferred",
    "escalated",
    "reopened",
)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel class (SQLModel's stubs do not declare ``__table__``)."""
    table: sa.Table = getattr(model, "__table__")  # noqa: B009
    return table


def insert_of(session: AsyncSession, table: Any) -> Any:
    """A dialect-specific INSERT that supports ON CONFLICT (SQLite and PostgreSQL agree)."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
