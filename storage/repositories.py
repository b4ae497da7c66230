"""SQL repositories over one AsyncSession, grouped in a unit of work.

The same code runs on SQLite (embedded default) and PostgreSQL; the few statements that differ
(upserts, row claiming) pick the dialect's construct explicitly.

Each group of repositories lives in its own module (registry_repository, ticket_repositories,
delivery_repositories, clock_repository, messenger_repositories, admin_repositories,
grid_repositories, handoff_repository, reliability); this module binds them to one session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.admin_repositories import SqlAdmin, SqlNluData, SqlTicketQueries
from storage.clock_repository import SqlClocks
from storage.db import Database
from storage.delivery_repositories import SqlAttachments, SqlInbound, SqlMailbox, SqlOutbox
from storage.errors import StorageError, StorageUnavailable
from storage.grid_repositories import SqlHotspots, SqlNotices
from storage.handoff_repository import SqlHandoffs
from storage.messenger_repositories import SqlBindCodes, SqlTaskCards
from storage.objects import ObjectStore
from storage.people_repositories import SqlPeople
from storage.registry_repository import SqlRegistry
from storage.reliability import SqlRecovery
from storage.sql_common import OPEN_STATUSES
from storage.street_repository import SqlStreets
from storage.ticket_repositories import SqlDepartments, SqlFollowers, SqlTicketFinder, SqlTickets

__all__ = [
    "OPEN_STATUSES",
    "SqlAttachments",
    "SqlBindCodes",
    "SqlClocks",
    "SqlDepartments",
    "SqlFollowers",
    "SqlInbound",
    "SqlMailbox",
    "SqlOutbox",
    "SqlRegistry",
    "SqlStore",
    "SqlTaskCards",
    "SqlTicketFinder",
    "SqlTickets",
    "SqlUnitOfWork",
]


class SqlUnitOfWork:
    """One transaction with every repository bound to it."""

    def __init__(self, session: AsyncSession, objects: ObjectStore | None = None) -> None:
        self.session = session
        self.registry = SqlRegistry(session)
        self.tickets = SqlTickets(session)
        self.outbox = SqlOutbox(session)
        self.mailbox = SqlMailbox(session)
        self.inbound = SqlInbound(session)
        self.attachments = SqlAttachments(session, objects)
        self.clocks = SqlClocks(session)
        self.followers = SqlFollowers(session)
        self.departments = SqlDepartments(session)
        self.finder = SqlTicketFinder(session)
        self.bind_codes = SqlBindCodes(session)
        self.cards = SqlTaskCards(session)
        # admin console (storage/admin_repositories.py)
        self.admin = SqlAdmin(session)
        self.nlu_data = SqlNluData(session)
        self.ticket_queries = SqlTicketQueries(session)
        # recovery and delivery bookkeeping (storage/reliability.py)
        self.recovery = SqlRecovery(session)
        self.handoffs = SqlHandoffs(session)
        self.notices = SqlNotices(session)  # the whole grid (storage/grid_repositories.py)
        self.hotspots = SqlHotspots(session)
        self.streets = SqlStreets(session)  # the street level (storage/street_repository.py)
        self.people = SqlPeople(session)  # helpers, link codes (storage/people_repositories.py)
        self.queued = 0

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except SQLAlchemyError as e:
            raise StorageError(f"commit failed: {e}") from e


class SqlStore:
    """Factory of units of work over a Database: `async with store.unit() as uow: ...`."""

    def __init__(self, database: Database, objects: ObjectStore | None = None) -> None:
        self.database = database
        self.objects = objects  # photos' bytes (storage/objects.py); None: no photos here

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[SqlUnitOfWork]:
        """One transaction: commits when the block succeeds, rolls back when it raises.

        Driver errors leave storage/ only as StorageError.
        """
        try:
            async with self.database.session() as session:
                yield SqlUnitOfWork(session, self.objects)
        except SQLAlchemyError as e:
            if unreachable(e):
                raise StorageUnavailable(f"database unreachable: {e}") from e
            raise StorageError(f"database error: {e}") from e


# SQLSTATE classes of a server that is gone or going: 08 connection exception, 57P01-57P03
# admin/crash shutdown and "cannot connect now" (starting up or shutting down)
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03")


def unreachable(error: SQLAlchemyError) -> bool:
    """Whether a driver error means the database cannot be reached (not that a statement
    failed): connection refused or dropped, or the server shutting down or starting up."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if state is None:
        # no SQLSTATE: the driver never got an answer from a server (refused, reset, timeout)
        return type(error.orig).__name__ in {"OperationalError", "InterfaceError"}
    return str(state).startswith(_UNREACHABLE_STATES)
