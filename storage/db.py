"""Database engine, sessions and migrations (SQLite embedded by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import StorageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except Exception as e:  # sqlalchemy raises ArgumentError for garbage
        raise StorageError(f"invalid database URL: {e}") from e


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise StorageError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=drivers[backend])


def async_url(url: str) -> URL:
    """Map a user-facing URL (sqlite:///x.db, postgresql://...) to its asyncio driver."""
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> URL:
    """The same database through a synchronous driver (Alembic runs synchronously)."""
    return _with_driver(url, _SYNC_DRIVERS)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process and `minhu chat` read while the other writes; foreign keys are
    # off by default in SQLite; busy_timeout turns brief write contention into a wait.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """Owns the async engine and hands out sessions. Built once in the app's wiring."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        target = async_url(url)
        self.is_sqlite = target.get_backend_name() == "sqlite"
        if self.is_sqlite and target.database not in (None, "", ":memory:"):
            Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                # no JIT: compiling a statement's expressions took 65 ms of the 96 ms the
                # whole city's overdue count took (its cost estimate passes jit_above_cost);
                # the service's statements are short, JIT pays for hours-long reports only
                connect_args={"options": "-c jit=off"},
            )
        self.engine: AsyncEngine = create_async_engine(target, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def migrate(self) -> None:
        """Apply Alembic migrations up to head (idempotent; safe at every start)."""
        await asyncio.to_thread(upgrade, self.url)

    async def ping(self) -> None:
        """Fail fast with a clear error when the database is unreachable."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as e:
            raise StorageError(f"database unreachable: {_safe(self.url)}: {e}") from e

    async def dispose(self) -> None:
        await self.engine.dispose()


def _safe(url: str) -> str:
    return _parse(url).render_as_string(hide_password=True)


def schema_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for comparing a ``dialect`` database with the models: an
    index the models keep for one dialect only (``info={"dialect": …}``, e.g. the trigram
    indexes of PostgreSQL) is not expected elsewhere."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ != "index" or reflected:
            return True
        only = getattr(obj, "info", {}).get("dialect")
        return only is None or only == dialect

    return include


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is ConfigParser interpolation syntax; URLs may contain it (encoded passwords).
    cfg.set_main_option(
        "sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What one run of the migrations did.

    Attributes:
        before: the revision the database was at; None for a new database.
        after: the revision it is at now.
        applied: the revisions applied, oldest first (empty: it was up to date).
        renamed: the database's old revision id, when it carried one from before the
            migrations were renamed (see ``storage/migrations/legacy.py``).
    """

    before: str | None
    after: str | None
    applied: tuple[str, ...]
    renamed: str | None = None


def _current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


MIGRATION_LOCK = 0x6D696E6875  # "minhu": the advisory lock every migrating process takes


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """One migrator at a time on PostgreSQL: replicas starting together wait, then see head.

    A session-level advisory lock on its own connection; released when the block ends (or
    the process dies, when PostgreSQL drops the connection). SQLite needs none.
    """
    target = sync_url(url)
    if target.get_backend_name() != "postgresql":
        yield
        return
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> Upgrade:
    """Synchronously apply migrations (used at start and by `minhu db upgrade`).

    Returns:
        The revisions before and after, and which were applied.

    Raises:
        StorageError: the database is unreachable or a migration failed.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    from storage.migrations.legacy import LEGACY_REVISIONS

    target = sync_url(url)
    if target.get_backend_name() == "sqlite" and target.database not in (None, "", ":memory:"):
        Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    try:
        with migration_lock(url):
            found = _current_revision(url)
            command.upgrade(config, revision)
            after = _current_revision(url)
    except Exception as e:
        raise StorageError(f"migration failed on {_safe(url)}: {e}") from e
    renamed = found if found in LEGACY_REVISIONS else None
    before = LEGACY_REVISIONS.get(found, found) if found else None
    script = ScriptDirectory.from_config(config)
    applied = tuple(
        reversed([r.revision for r in script.iterate_revisions(after or "base", before or "base")])
    )
    return Upgrade(before, after, applied if after != before else (), renamed)
