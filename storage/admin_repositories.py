"""SQL repositories of the admin console: accounts and audit, NLU training data, ticket queries.

Bound to the same session as the core repositories (see ``SqlUnitOfWork``), so a console
action and its audit entry commit or roll back together.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.admin_types import (
    CommunityCounts,
    DashboardCounts,
    ExampleRow,
    ResolveTargets,
    TableKind,
    TicketFilter,
    TicketPage,
    TicketTiming,
)
from storage.errors import DuplicateError, NotFound
from storage.models import (
    DAILY_ZONE,
    AdminToken,
    AdminUser,
    AuditLog,
    Building,
    ChannelIdentity,
    Grid,
    GridWorker,
    InboundMessage,
    NluActivation,
    NluExample,
    NluIntent,
    NluJob,
    NluLookup,
    NluRegex,
    NluSynonym,
    Resident,
    ReviewDecision,
    Ticket,
    TicketDaily,
    TicketEvent,
)
from storage.sql_common import table_of

TABLES: dict[str, type[NluSynonym] | type[NluLookup] | type[NluRegex]] = {
    "synonym": NluSynonym,
    "lookup": NluLookup,
    "regex": NluRegex,
}


async def _flush(session: AsyncSession, what: str) -> None:
    try:
        await session.flush()
    except IntegrityError as e:
        raise DuplicateError(f"{what}: {e.orig}") from e


# --- accounts, tokens, audit, review decisions -------------------------------------------------


class SqlAdmin:
    """Console users, their sessions and API tokens, the audit log and review decisions."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def users(self) -> Sequence[AdminUser]:
        return (await self.s.exec(select(AdminUser).order_by(col(AdminUser.id)))).all()

    async def user(self, user_id: int) -> AdminUser | None:
        return await self.s.get(AdminUser, user_id)

    async def user_by_name(self, username: str) -> AdminUser | None:
        query = select(AdminUser).where(AdminUser.username == username)
        return (await self.s.exec(query)).first()

    async def add_user(self, user: AdminUser) -> AdminUser:
        self.s.add(user)
        await _flush(self.s, f"user {user.username!r} exists")
        return user

    async def save_user(self, user: AdminUser) -> None:
        self.s.add(user)
        await self.s.flush()

    async def add_token(self, token: AdminToken) -> AdminToken:
        self.s.add(token)
        await _flush(self.s, "token clash")
        return token

    async def token_by_hash(self, token_hash: str) -> AdminToken | None:
        query = select(AdminToken).where(AdminToken.token_hash == token_hash)
        return (await self.s.exec(query)).first()

    async def save_token(self, token: AdminToken) -> None:
        self.s.add(token)
        await self.s.flush()

    async def tokens(self, user_id: int, *, kind: str | None = None) -> Sequence[AdminToken]:
        query = select(AdminToken).where(AdminToken.user_id == user_id)
        if kind is not None:
            query = query.where(AdminToken.kind == kind)
        return (await self.s.exec(query.order_by(col(AdminToken.id)))).all()

    async def revoke_tokens(self, user_id: int, *, kind: str | None = None) -> int:
        table = table_of(AdminToken)
        stmt = sa.update(table).where(table.c.user_id == user_id, table.c.revoked.is_(False))
        if kind is not None:
            stmt = stmt.where(table.c.kind == kind)
        result = await self.s.execute(stmt.values(revoked=True))
        return int(getattr(result, "rowcount", 0) or 0)

    async def add_audit(self, entry: AuditLog) -> AuditLog:
        self.s.add(entry)
        await self.s.flush()
        return entry

    async def audit(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action: str | None = None,
        username: str | None = None,
    ) -> tuple[Sequence[AuditLog], int]:
        query = select(AuditLog)
        if action:
            query = query.where(col(AuditLog.action).startswith(action))
        if username:
            query = query.where(AuditLog.username == username)
        total = await _count(self.s, query)
        rows = (
            await self.s.exec(query.order_by(col(AuditLog.id).desc()).offset(offset).limit(limit))
        ).all()
        return rows, total

    async def decision(self, source: str, source_id: int) -> ReviewDecision | None:
        query = select(ReviewDecision).where(
            ReviewDecision.source == source, ReviewDecision.source_id == source_id
        )
        return (await self.s.exec(query)).first()

    async def decided(self, source: str, source_ids: Sequence[int]) -> set[int]:
        if not source_ids:
            return set()
        query = select(ReviewDecision.source_id).where(
            ReviewDecision.source == source, col(ReviewDecision.source_id).in_(list(source_ids))
        )
        return {int(x) for x in (await self.s.exec(query)).all()}

    async def add_decision(self, decision: ReviewDecision) -> ReviewDecision:
        self.s.add(decision)
        await _flush(self.s, "this item was reviewed already")
        return decision

    # registry maintenance (the core RegistryRepository only adds and saves)
    async def delete_row(self, obj: Any) -> None:
        try:
            await self.s.delete(obj)
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(f"still referenced: {e.orig}") from e

    async def references(self, column: str, row_id: int) -> int:
        """How many tickets, residents, workers, grids or buildings point at a registry row."""
        checks: dict[str, list[tuple[type[SQLModel], str]]] = {
            "community": [(Ticket, "community_id"), (Resident, "community_id"),
                          (GridWorker, "community_id"), (Grid, "community_id"),
                          (Building, "community_id"), (AdminUser, "community_id")],
            "grid": [(Ticket, "grid_id"), (GridWorker, "grid_id"), (Building, "grid_id"),
                     (Grid, "parent_id")],
            "building": [(Ticket, "building_id"), (Resident, "building_id")],
            "worker": [(Ticket, "assignee_id"), (AdminUser, "worker_id")],
        }  # fmt: skip
        total = 0
        for model, attr in checks[column]:
            table = table_of(model)
            query = sa.select(sa.func.count()).select_from(table).where(table.c[attr] == row_id)
            total += int((await self.s.execute(query)).scalar_one())
        return total

    async def set_worker_identities(
        self, worker_id: int, identities: Sequence[tuple[str, str]]
    ) -> None:
        """Make these (channel, user_id) pairs the worker's channels, in preference order."""
        wanted = {(c, u): i for i, (c, u) in enumerate(identities)}
        current = (
            await self.s.exec(select(ChannelIdentity).where(ChannelIdentity.worker_id == worker_id))
        ).all()
        for ident in current:
            if (ident.channel, ident.user_id) not in wanted:
                ident.worker_id = None
                self.s.add(ident)
        await self.s.flush()
        for (channel, user_id), priority in wanted.items():
            query = select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id
            )
            found = (await self.s.exec(query)).first()
            ident = found or ChannelIdentity(channel=channel, user_id=user_id)
            if ident.worker_id not in (None, worker_id):
                raise DuplicateError(f"{channel}:{user_id} belongs to worker {ident.worker_id}")
            ident.worker_id = worker_id
            ident.priority = priority
            ident.reachable = True
            self.s.add(ident)
        await self.s.flush()


async def _count(session: AsyncSession, query: Any) -> int:
    counted = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    return int((await session.execute(counted)).scalar_one())


# --- NLU training data, training jobs, activations -------------------------------------------


class SqlNluData:
    """Intents, examples, synonyms, lookup tables and regexes; training jobs; activations."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # intents
    async def intents(self) -> Sequence[NluIntent]:
        return (await self.s.exec(select(NluIntent).order_by(col(NluIntent.name)))).all()

    async def example_counts(self) -> dict[int, int]:
        query = select(NluExample.intent_id, sa.func.count()).group_by(col(NluExample.intent_id))
        return {int(i): int(n) for i, n in (await self.s.exec(query)).all()}

    async def intent(self, intent_id: int) -> NluIntent | None:
        return await self.s.get(NluIntent, intent_id)

    async def intent_by_name(self, name: str) -> NluIntent | None:
        return (await self.s.exec(select(NluIntent).where(NluIntent.name == name))).first()

    async def add_intent(self, intent: NluIntent) -> NluIntent:
        self.s.add(intent)
        await _flush(self.s, f"intent {intent.name!r} exists")
        return intent

    async def save_intent(self, intent: NluIntent) -> None:
        self.s.add(intent)
        await _flush(self.s, f"intent {intent.name!r} exists")

    async def delete_intent(self, intent_id: int) -> int:
        """Delete an intent and its examples; returns how many examples went with it."""
        ex = table_of(NluExample)
        result = await self.s.execute(sa.delete(ex).where(ex.c.intent_id == intent_id))
        intent = await self.s.get(NluIntent, intent_id)
        if intent is None:
            raise NotFound(f"intent {intent_id}")
        await self.s.delete(intent)
        await self.s.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    # examples
    async def examples(self, intent_id: int | None = None) -> Sequence[NluExample]:
        query = select(NluExample).order_by(col(NluExample.id))
        if intent_id is not None:
            query = query.where(NluExample.intent_id == intent_id)
        return (await self.s.exec(query)).all()

    async def all_examples(self) -> list[ExampleRow]:
        query = (
            select(NluExample, NluIntent.name)
            .join(NluIntent, col(NluIntent.id) == col(NluExample.intent_id))
            .order_by(col(NluIntent.name), col(NluExample.id))
        )
        return [
            ExampleRow(
                e.id or 0,
                name,
                e.text,
                list(e.entities or []),
                e.source,
                e.community_id,
                dict(e.meta) if e.meta else None,
            )
            for e, name in (await self.s.exec(query)).all()
        ]

    async def example(self, example_id: int) -> NluExample | None:
        return await self.s.get(NluExample, example_id)

    async def add_example(self, example: NluExample) -> NluExample:
        self.s.add(example)
        await _flush(self.s, "this example exists under the intent already")
        return example

    async def insert_examples(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert many examples in one statement (seeding, imports); DuplicateError on a clash.

        Each row: intent_id, text, entities, source, created_by, created_at (and meta).
        """
        if not rows:
            return 0
        try:
            await self.s.execute(sa.insert(table_of(NluExample)), list(rows))
        except IntegrityError as e:
            raise DuplicateError(f"example exists: {e.orig}") from e
        return len(rows)

    async def save_example(self, example: NluExample) -> None:
        self.s.add(example)
        await _flush(self.s, "this example exists under the intent already")

    async def delete_example(self, example_id: int) -> None:
        example = await self.s.get(NluExample, example_id)
        if example is None:
            raise NotFound(f"example {example_id}")
        await self.s.delete(example)
        await self.s.flush()

    async def intents_with_text(self, text: str) -> list[str]:
        query = (
            select(NluIntent.name)
            .join(NluExample, col(NluIntent.id) == col(NluExample.intent_id))
            .where(NluExample.text == text)
            .order_by(col(NluIntent.name))
        )
        return [str(n) for n in (await self.s.exec(query)).all()]

    async def shared_texts(self) -> dict[str, list[str]]:
        """Example texts that appear under more than one intent → those intents."""
        shared = (
            select(NluExample.text)
            .group_by(col(NluExample.text))
            .having(sa.func.count(sa.distinct(col(NluExample.intent_id))) > 1)
        )
        query = (
            select(NluExample.text, NluIntent.name)
            .join(NluIntent, col(NluIntent.id) == col(NluExample.intent_id))
            .where(col(NluExample.text).in_(shared))
            .order_by(col(NluExample.text), col(NluIntent.name))
        )
        out: dict[str, list[str]] = {}
        for text, name in (await self.s.exec(query)).all():
            out.setdefault(str(text), []).append(str(name))
        return out

    # synonyms, lookup tables, regexes
    async def table_rows(self, kind: TableKind) -> Sequence[NluSynonym | NluLookup | NluRegex]:
        model = TABLES[kind]
        rows = (await self.s.execute(sa.select(model).order_by(col(model.name)))).scalars().all()
        return list(rows)

    async def table_row(
        self, kind: TableKind, row_id: int
    ) -> NluSynonym | NluLookup | NluRegex | None:
        return await self.s.get(TABLES[kind], row_id)

    async def table_row_by_name(
        self, kind: TableKind, name: str
    ) -> NluSynonym | NluLookup | NluRegex | None:
        model = TABLES[kind]
        query = sa.select(model).where(col(model.name) == name)
        return (await self.s.execute(query)).scalars().first()

    async def save_table_row(self, row: NluSynonym | NluLookup | NluRegex) -> None:
        self.s.add(row)
        await _flush(self.s, f"{row.name!r} exists")

    async def delete_table_row(self, kind: TableKind, row_id: int) -> None:
        row = await self.s.get(TABLES[kind], row_id)
        if row is None:
            raise NotFound(f"{kind} {row_id}")
        await self.s.delete(row)
        await self.s.flush()

    async def is_empty(self) -> bool:
        return (await self.s.exec(select(NluIntent.id).limit(1))).first() is None

    async def clear(self) -> None:
        """Remove all training data (an import in replace mode, inside its transaction)."""
        for model in (NluExample, NluIntent, NluSynonym, NluLookup, NluRegex):
            await self.s.execute(sa.delete(table_of(model)))

    # jobs
    async def add_job(self, job: NluJob) -> NluJob:
        self.s.add(job)
        await self.s.flush()
        return job

    async def job(self, job_id: int) -> NluJob | None:
        query = select(NluJob).where(NluJob.id == job_id).execution_options(populate_existing=True)
        return (await self.s.exec(query)).first()

    async def jobs(self, *, limit: int = 20) -> Sequence[NluJob]:
        return (
            await self.s.exec(select(NluJob).order_by(col(NluJob.id).desc()).limit(limit))
        ).all()

    async def unfinished_jobs(self) -> Sequence[NluJob]:
        query = select(NluJob).where(col(NluJob.status).in_(["queued", "running"]))
        return (await self.s.exec(query.order_by(col(NluJob.id)))).all()

    async def save_job(self, job: NluJob) -> None:
        self.s.add(job)
        await self.s.flush()

    async def claim_job(
        self, *, now: datetime, lease_until: datetime, worker: str, kinds: Sequence[str]
    ) -> NluJob | None:
        """The oldest job that is queued, or running under a lease that expired (its worker
        died), claimed for ``worker``. A conditional UPDATE decides who wins, so two workers
        (processes, replicas) never both get a job, on PostgreSQL and SQLite alike."""
        claimable = sa.or_(
            col(NluJob.status) == "queued",
            sa.and_(
                col(NluJob.status) == "running",
                # no lease: a job left running by a version before the queue (0018_jobqueue)
                sa.or_(col(NluJob.lease_until).is_(None), col(NluJob.lease_until) < now),
            ),
        )
        ids = (
            await self.s.exec(
                select(NluJob.id)
                .where(claimable, col(NluJob.kind).in_(list(kinds)))
                .order_by(col(NluJob.id))
                .limit(5)
            )
        ).all()
        table = table_of(NluJob)
        for job_id in ids:
            result = await self.s.execute(
                sa.update(table)
                .where(table.c.id == job_id, claimable)
                .values(
                    status="running",
                    worker=worker,
                    lease_until=lease_until,
                    heartbeat_at=now,
                    attempts=table.c.attempts + 1,
                )
            )
            if getattr(result, "rowcount", 0) == 1:
                return await self.job(job_id or 0)
        return None

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
        """Extend ``worker``'s claim and record progress; False when the claim is lost."""
        table = table_of(NluJob)
        result = await self.s.execute(
            sa.update(table)
            .where(table.c.id == job_id, table.c.worker == worker, table.c.status == "running")
            .values(lease_until=lease_until, heartbeat_at=now, stage=stage, progress=progress)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # activations
    async def add_activation(self, activation: NluActivation) -> NluActivation:
        self.s.add(activation)
        await self.s.flush()
        return activation

    async def activations(self, *, limit: int = 50) -> Sequence[NluActivation]:
        query = select(NluActivation).order_by(col(NluActivation.id).desc()).limit(limit)
        return (await self.s.exec(query)).all()


# --- ticket queries (lists, filters, statistics) -----------------------------------------------


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Ticket numbers are MH-YYYYMMDD-NNNN (``SqlTicketRepository.next_number``), phones are stored
# as digits only (``nlu.pii.phone_digits``). A search term that cannot occur in a column is not
# looked for there, and one that can only occur at its start is a prefix look-up: the results
# are those of ``ILIKE '%term%'`` over the five columns, without a trigram scan of every number
# and phone of the city (their trigrams are in all of them).
_NUMBER_PREFIX = "MH-"
_NUMBER_CHARS = frozenset("MH-0123456789")
_LONGEST_DIGIT_RUN_IN_NUMBER = 8  # the date
_PHONE_PREFIX_DIGITS = 11  # a mobile number or longer: matched from the start of the phone
# pg_trgm indexes runs of three word characters; '%xy%' alone gives it nothing to look up
_TRIGRAM = re.compile(r"\w{3}")


def _pattern(value: str) -> Any:
    """A LIKE pattern written into the statement, not bound: psycopg prepares a statement run
    five times, and PostgreSQL's generic plan of ``LIKE $1`` cannot use a trigram or prefix
    index (it read a community's 12,600 tickets from the heap: 172 ms instead of 9 ms)."""
    return sa.bindparam(None, value, type_=sa.String(), literal_execute=True)


class _DigitsPrefix(sa.sql.expression.ColumnElement[bool]):
    """``column`` starts with ``digits``. On PostgreSQL a range of the ``text_pattern_ops``
    index: written as ``LIKE '137…%'`` the planner chose the column's trigram index, whose
    trigrams ("000", "137") are in tens of thousands of a city's phones (880 ms for one phone
    in 5 million tickets; as a range, 1 ms). Elsewhere ``LIKE``."""

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [  # noqa: RUF012 -- SQLAlchemy's own declaration, read per class
        ("column", InternalTraversal.dp_clauseelement),
        ("digits", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, digits: str) -> None:
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError("a digits prefix takes digits only")
        self.column = column
        self.digits = digits


@compiles(_DigitsPrefix)
def _digits_prefix(element: _DigitsPrefix, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.like(_pattern(f"{element.digits}%")), **kw))


@compiles(_DigitsPrefix, "postgresql")
def _digits_prefix_range(element: _DigitsPrefix, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    low = compiler.render_literal_value(element.digits, sa.String())
    # the first string after every one that starts with the digits ("9" + 1 is ":")
    high = element.digits[:-1] + chr(ord(element.digits[-1]) + 1)
    return (
        f"({column} ~>=~ {low} AND {column} ~<~ {compiler.render_literal_value(high, sa.String())})"
    )


def _text_match(term: str) -> Any:
    """The search condition for ``term`` (stripped, not empty) on both backends."""
    pattern = _pattern(f"%{_escape_like(term)}%")
    upper = term.upper()
    digits = term.isascii() and term.isdigit()
    # a term without letters (Chinese, digits) matches the same case-sensitively, and LIKE
    # does not lower-case every row it reads (twice as fast as ILIKE over a city's tickets)
    caseless = term.lower() == upper

    def contains(column: Any) -> Any:
        if not _TRIGRAM.search(term):
            # no trigram in '%漏水%': the trigram index would hand back every row, unsorted;
            # an expression the index does not cover lets the plan read newest-first instead
            column = column.concat("")
        if caseless:
            return column.like(pattern, escape="\\")
        return column.ilike(pattern, escape="\\")

    wide = [
        contains(col(Ticket.description)),
        contains(col(Ticket.building_name)),
        contains(col(Ticket.location_note)),
    ]
    if upper.startswith(_NUMBER_PREFIX):
        # "MH-" begins every number and occurs nowhere else in it: a prefix (an index range)
        wide.append(col(Ticket.number).like(_pattern(f"{_escape_like(upper)}%"), escape="\\"))
    elif set(upper) <= _NUMBER_CHARS and not (digits and len(term) > _LONGEST_DIGIT_RUN_IN_NUMBER):
        wide.append(contains(col(Ticket.number)))
    if digits and len(term) >= _PHONE_PREFIX_DIGITS:
        wide.append(_DigitsPrefix(col(Ticket.contact_phone), term))
    elif digits:
        wide.append(contains(col(Ticket.contact_phone)))
    return sa.or_(*wide)


# the newest tickets a city-wide search reads first (about 11 days of a 5-million-ticket city)
RECENT_WINDOW = 50_000
_NARROW = re.compile(r"MH-\d{8}-\d*|\d{11,}")


def _city_wide_words(f: TicketFilter) -> bool:
    """A search of words over the whole city (not a ticket number or a phone, not one
    community's or one worker's tickets)."""
    term = f.query.strip()
    return bool(
        term
        and not _NARROW.fullmatch(term.upper())
        and f.community_ids is None
        and f.assignee_id is None
        and not f.grid_ids
    )


def _newest_first(f: TicketFilter) -> Any:
    """Newest first, by an expression the primary key does not cover where PostgreSQL would
    otherwise read the table newest-first hoping for an early page: a ticket number or a
    phone (a few matches: 11 s reading 5 million tickets for one) and a search within some
    communities (1 ticket in 400 is theirs, 1 in 40 of those matches); this way it collects
    the matches from the indexes and sorts them."""
    term = f.query.strip()
    if term and (f.community_ids or _NARROW.fullmatch(term.upper())):
        return (col(Ticket.id) + 0).desc()
    return col(Ticket.id).desc()


def _where(query: Any, f: TicketFilter) -> Any:
    if f.community_ids is not None:
        query = query.where(col(Ticket.community_id).in_(list(f.community_ids)))
    if f.assignee_id is not None:
        query = query.where(Ticket.assignee_id == f.assignee_id)
    if f.statuses:
        query = query.where(col(Ticket.status).in_(list(f.statuses)))
    if f.categories:
        query = query.where(col(Ticket.category).in_(list(f.categories)))
    if f.priorities:
        query = query.where(col(Ticket.priority).in_(list(f.priorities)))
    if f.grid_ids:
        query = query.where(col(Ticket.grid_id).in_(list(f.grid_ids)))
    if f.created_from is not None:
        query = query.where(col(Ticket.created_at) >= f.created_from)
    if f.created_to is not None:
        query = query.where(col(Ticket.created_at) < f.created_to)
    if f.numbers:
        query = query.where(col(Ticket.number).in_(list(f.numbers)))
    if f.query.strip():
        query = query.where(_text_match(f.query.strip()))
    if f.overdue is not None:
        o = f.overdue
        late: list[Any] = []
        own = list(o.by_category)
        scopes: list[tuple[Any, Mapping[str, datetime], Mapping[str, datetime]]] = [
            (
                col(Ticket.category).not_in(own) if own else sa.true(),
                o.accept_before,
                o.resolve_before,
            )
        ]
        scopes += [
            (col(Ticket.category) == category, accept, resolve)
            for category, (accept, resolve) in o.by_category.items()
        ]
        waiting_since = sa.func.coalesce(col(Ticket.assigned_at), col(Ticket.created_at))
        for in_scope, accept_before, resolve_before in scopes:
            for statuses, since, cutoffs in (
                (o.waiting, waiting_since, accept_before),
                (o.open, col(Ticket.created_at), resolve_before),
            ):
                late += [
                    sa.and_(
                        in_scope,
                        col(Ticket.priority) == priority,
                        col(Ticket.status).in_(list(statuses)),
                        since < cutoff,
                    )
                    for priority, cutoff in cutoffs.items()
                ]
        query = query.where(sa.or_(*late) if late else sa.false())
    return query


class SqlTicketQueries:
    """Read-only ticket queries for the console and the JSON API."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def search(
        self, f: TicketFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[Ticket], int]:
        query = _where(select(Ticket), f)
        total = await _count(self.s, query)
        rows = (
            await self.s.exec(query.order_by(_newest_first(f)).offset(offset).limit(limit))
        ).all()
        return rows, total

    async def page(
        self, f: TicketFilter, *, limit: int = 50, offset: int = 0, count_up_to: int = 1000
    ) -> TicketPage:
        query = _where(select(Ticket), f)
        bound = max(count_up_to, offset + limit)
        if _city_wide_words(f):
            # the newest tickets first: a term in 1 % of them fills the page and the count
            # there, and PostgreSQL cannot misjudge a range of the primary key; a rarer term
            # falls through to the whole table (where its trigram index pays)
            newest = (await self.s.execute(sa.select(sa.func.max(col(Ticket.id))))).scalar()
            if newest is not None and newest > RECENT_WINDOW:
                # written into the statement like the patterns: a generic plan of `id > $1`
                # guesses a third of the city and takes the phrase's trigram bitmap instead
                # (400 ms instead of 20 once psycopg prepared the statement)
                since = sa.bindparam(
                    None, newest - RECENT_WINDOW, type_=sa.Integer(), literal_execute=True
                )
                recent = query.where(col(Ticket.id) > since)
                rows = await self._rows(recent, f, limit, offset)
                if len(rows) == limit:
                    if await self._count(recent, bound) > bound:
                        return TicketPage(rows, bound, more=True)
                    total = await self._count(query, bound)
                    return TicketPage(rows, min(total, bound), more=total > bound)
        rows = await self._rows(query, f, limit, offset)
        if len(rows) < limit and (rows or offset == 0):
            return TicketPage(rows, offset + len(rows))  # the page holds the last match
        total = await self._count(query, bound)
        return TicketPage(rows, min(total, bound), more=total > bound)

    async def _rows(self, query: Any, f: TicketFilter, limit: int, offset: int) -> Sequence[Ticket]:
        ordered = query.order_by(_newest_first(f)).offset(offset).limit(limit)
        rows: Sequence[Ticket] = (await self.s.exec(ordered)).all()
        return rows

    async def _count(self, query: Any, bound: int) -> int:
        """How many rows the query selects, counting no further than ``bound + 1``."""
        counted = sa.select(sa.func.count()).select_from(
            query.with_only_columns(col(Ticket.id)).order_by(None).limit(bound + 1).subquery()
        )
        return int((await self.s.execute(counted)).scalar_one())

    async def count_by(self, f: TicketFilter, column: str) -> dict[Any, int]:
        """Ticket counts grouped by one column (category, status, grid_id, priority, rating)."""
        if column not in ("category", "status", "grid_id", "priority", "rating"):
            raise ValueError(f"cannot group by {column!r}")
        attr = getattr(Ticket, column)
        query = _where(select(attr, sa.func.count()), f).group_by(attr)
        return {key: int(n) for key, n in (await self.s.exec(query)).all()}

    async def timings(self, f: TicketFilter) -> list[TicketTiming]:
        t = table_of(Ticket).c
        columns = (t.id, t.category, t.priority, t.status, t.grid_id, t.rating)
        times = (t.created_at, t.accepted_at, t.resolved_at, t.closed_at)
        query = _where(sa.select(*columns, *times, t.community_id), f).order_by(t.id)
        return [TicketTiming(*row) for row in (await self.s.execute(query)).all()]

    async def dashboard(
        self,
        f: TicketFilter,
        *,
        open_statuses: Sequence[str],
        targets: ResolveTargets,
        zone: str,
    ) -> DashboardCounts:
        """The dashboard's figures: counts from the daily table (``TicketDaily``) when the
        filter is whole local days of some communities or the city, the times (medians, share
        resolved within target) from the tickets; anything else from the tickets alone."""
        daily, first = _daily_window(f, zone)
        if daily:
            return await self._dashboard_daily(f, first, open_statuses, targets, zone)
        return await self.dashboard_from_tickets(
            f, open_statuses=open_statuses, targets=targets, zone=zone
        )

    async def dashboard_from_tickets(
        self,
        f: TicketFilter,
        *,
        open_statuses: Sequence[str],
        targets: ResolveTargets,
        zone: str,
    ) -> DashboardCounts:
        """Every figure counted from the tickets themselves (the daily table's reference)."""
        if self.s.get_bind().dialect.name != "postgresql":
            # SQLite (the embedded default, a community's worth of tickets): count in Python
            return _dashboard_of(await self.timings(f), open_statuses, targets, ZoneInfo(zone))
        t = _dashboard_rows(f, zone)
        groups = (await self.s.execute(_dashboard_groups(t, open_statuses, targets))).all()
        totals = (await self.s.execute(_dashboard_totals(t, open_statuses, targets))).one()
        return _dashboard_from_rows(groups, totals)

    async def _dashboard_daily(
        self,
        f: TicketFilter,
        first: date | None,
        open_statuses: Sequence[str],
        targets: ResolveTargets,
        zone: str,
    ) -> DashboardCounts:
        d = table_of(TicketDaily).c

        def scoped(query: Any) -> Any:
            if first is not None:
                query = query.where(d.day >= first)
            if f.community_ids is not None:
                query = query.where(d.community_id.in_(list(f.community_ids)))
            return query

        n = sa.func.sum(d.n)
        status = d.dim == "status"
        found: dict[str, list[tuple[str, int]]] = {}
        created: dict[date, int] = {}
        if self.s.get_bind().dialect.name == "postgresql":
            # one pass over the month's rows, two groupings
            query = scoped(
                sa.select(
                    d.dim,
                    d.key,
                    d.day,
                    sa.func.grouping(d.dim).label("g_figure"),
                    n.label("n"),
                    n.filter(status).label("reported"),
                ).group_by(sa.func.grouping_sets(sa.tuple_(d.dim, d.key), sa.tuple_(d.day)))
            )
            for row in (await self.s.execute(query.order_by(d.dim, d.key))).all():
                if row.g_figure == 0:
                    if row.n:
                        found.setdefault(row.dim, []).append((row.key, int(row.n)))
                elif row.reported:
                    created[row.day] = int(row.reported)
        else:
            figures = scoped(sa.select(d.dim, d.key, n).group_by(d.dim, d.key).having(n != 0))
            for dim, key, count in (await self.s.execute(figures.order_by(d.dim, d.key))).all():
                found.setdefault(dim, []).append((key, int(count)))
            per_day = scoped(sa.select(d.day, n).where(status).group_by(d.day).having(n != 0))
            created = {day: int(count) for day, count in (await self.s.execute(per_day)).all()}
        times = await self._dashboard_times(f, open_statuses, targets, zone)
        statuses = found.get("status", [])
        ratings = found.get("rating", [])
        resolved_days = found.get("resolved", [])
        return DashboardCounts(
            total=sum(count for _, count in statuses),
            open=sum(count for key, count in statuses if key in open_statuses),
            by_category=found.get("category", []),
            by_grid=times.by_grid,
            by_status=statuses,
            created_per_day=created,
            resolved_per_day={date.fromisoformat(key): count for key, count in resolved_days},
            ratings={int(key): count for key, count in ratings},
            median_accept_minutes=times.median_accept_minutes,
            median_resolve_minutes=times.median_resolve_minutes,
            resolved=sum(count for _, count in resolved_days),
            resolved_in_time=times.resolved_in_time,
            by_community=times.by_community,
        )

    async def _dashboard_times(
        self, f: TicketFilter, open_statuses: Sequence[str], targets: ResolveTargets, zone: str
    ) -> _Times:
        """What the daily counts cannot hold — medians, and resolved within target (the
        targets are the SLA policy of the moment) — from the tickets, with each grid's count
        and each community's figures for the per-street table in the same pass (a hash
        aggregate of a few thousand groups)."""
        if self.s.get_bind().dialect.name != "postgresql":
            counts = _dashboard_of(await self.timings(f), open_statuses, targets, ZoneInfo(zone))
            return _Times(
                counts.median_accept_minutes,
                counts.median_resolve_minutes,
                counts.resolved_in_time,
                sorted(counts.by_community, key=lambda c: c.community_id or 0),
                sorted(counts.by_grid, key=lambda g: (g[0] is None, g[0] or 0)),
            )
        t = _dashboard_rows(f, zone)
        target = _target_expression(t.c.category, t.c.priority, targets)
        resolved = t.c.resolved_at.is_not(None)
        rated = sa.and_(t.c.rating.is_not(None), t.c.rating != 0)
        # two statements: a hash aggregate per community and grid, and the two sorts of the
        # medians (one statement with GROUPING SETS sorts the month as well: slower)
        per_grid = (
            sa.select(
                t.c.community_id,
                t.c.grid_id,
                sa.func.count(),
                sa.func.count().filter(t.c.status.in_(list(open_statuses))),
                sa.func.count().filter(resolved),
                sa.func.count().filter(sa.and_(resolved, t.c.resolve_seconds <= target)),
                sa.func.count().filter(rated),
                sa.func.coalesce(sa.func.sum(t.c.rating).filter(rated), 0),
            )
            .group_by(t.c.community_id, t.c.grid_id)
            .order_by(t.c.community_id)
        )
        communities: dict[int | None, list[int]] = {}
        grids: dict[int | None, int] = {}
        for community_id, grid_id, *figures in (await self.s.execute(per_grid)).all():
            sums = communities.setdefault(community_id, [0] * len(figures))
            for i, figure in enumerate(figures):
                sums[i] += int(figure)
            grids[grid_id] = grids.get(grid_id, 0) + int(figures[0])
        by_community = [CommunityCounts(c, *sums) for c, sums in communities.items()]
        by_grid = sorted(grids.items(), key=lambda g: (g[0] is None, g[0] or 0))
        medians = sa.select(
            sa.func.percentile_cont(0.5).within_group(t.c.accept_minutes),
            sa.func.percentile_cont(0.5).within_group(t.c.resolve_seconds / 60),
        )
        accept, resolve = (await self.s.execute(medians)).one()
        return _Times(
            None if accept is None else float(accept),
            None if resolve is None else float(resolve),
            sum(c.resolved_in_time for c in by_community),
            by_community,
            by_grid,
        )

    async def recategorised(
        self, f: TicketFilter, *, limit: int = 200
    ) -> list[tuple[Ticket, TicketEvent]]:
        """Tickets whose category staff or a worker changed, with the latest such event."""
        query = _where(
            select(Ticket, TicketEvent)
            .join(TicketEvent, col(TicketEvent.ticket_id) == col(Ticket.id))
            .where(TicketEvent.kind == "recategorize"),
            f,
        ).order_by(col(TicketEvent.id).desc())
        seen: set[int] = set()
        out: list[tuple[Ticket, TicketEvent]] = []
        for ticket, event in (await self.s.exec(query.limit(limit * 3))).all():
            if ticket.id in seen:
                continue
            seen.add(ticket.id or 0)
            out.append((ticket, event))
            if len(out) >= limit:
                break
        return out

    async def inbound_for_user(
        self,
        channel: str,
        user_id: str,
        *,
        since: datetime,
        until: datetime,
        limit: int = 30,
    ) -> Sequence[InboundMessage]:
        query = (
            select(InboundMessage)
            .where(
                InboundMessage.channel == channel,
                InboundMessage.user_id == user_id,
                col(InboundMessage.received_at) >= since,
                col(InboundMessage.received_at) <= until,
            )
            .order_by(col(InboundMessage.id))
            .limit(limit)
        )
        return (await self.s.exec(query)).all()

    async def unsure_inbound(
        self,
        *,
        threshold: float,
        since: datetime,
        community_ids: tuple[int, ...] | None = None,
        limit: int = 200,
    ) -> Sequence[InboundMessage]:
        """Residents' processed messages the NLU was unsure about (low confidence or
        out_of_scope), newest first. Workers' messages are left out."""
        ident = table_of(ChannelIdentity)
        query = (
            select(InboundMessage)
            .join(
                ident,
                sa.and_(
                    ident.c.channel == InboundMessage.channel,
                    ident.c.user_id == InboundMessage.user_id,
                ),
            )
            .where(
                InboundMessage.status == "done",
                InboundMessage.intent != "",
                col(InboundMessage.received_at) >= since,
                ident.c.worker_id.is_(None),
                sa.or_(
                    col(InboundMessage.intent) == "out_of_scope",
                    col(InboundMessage.confidence) < threshold,
                ),
            )
        )
        if community_ids is not None:
            resident = table_of(Resident)
            query = query.join(resident, resident.c.id == ident.c.resident_id).where(
                resident.c.community_id.in_(list(community_ids))
            )
        query = query.order_by(col(InboundMessage.id).desc()).limit(limit)
        return (await self.s.exec(query)).all()


@dataclass(frozen=True, slots=True)
class _Times:
    median_accept_minutes: float | None
    median_resolve_minutes: float | None
    resolved_in_time: int
    by_community: list[CommunityCounts]
    by_grid: list[tuple[int | None, int]]


def _daily_window(f: TicketFilter, zone: str) -> tuple[bool, date | None]:
    """Whether the daily table answers the filter, and from which local day (``None``: every
    day). It does not for a worker's or a grid's tickets, any other condition, another zone,
    or a window not starting at a local midnight."""
    if zone != DAILY_ZONE or f.created_to is not None or f.assignee_id is not None:
        return False, None
    if f.grid_ids or f.statuses or f.categories or f.priorities or f.numbers:
        return False, None
    if f.query.strip() or f.overdue is not None:
        return False, None
    if f.created_from is None:
        return True, None
    local = f.created_from.astimezone(ZoneInfo(zone))
    return local.time() == time(0), local.date()


# --- the dashboard's aggregation --------------------------------------------------------------


def _epoch(interval: Any) -> Any:
    """Seconds of an interval as float8 (EXTRACT is numeric since PostgreSQL 14: sorting a
    month of numerics for the medians took four times as long)."""
    return sa.func.date_part("epoch", interval, type_=sa.Float)


def _dashboard_rows(f: TicketFilter, zone: str) -> Any:
    c = table_of(Ticket).c

    def local_day(column: Any) -> Any:
        return sa.cast(sa.func.timezone(zone, sa.func.timezone("UTC", column)), sa.Date)

    # every column comes from ix_ticket_dashboard: an index-only scan of the month
    return _where(
        sa.select(
            c.id,
            c.community_id,
            c.category,
            c.priority,
            c.status,
            c.grid_id,
            c.rating,
            c.accepted_at,
            c.resolved_at,
            local_day(c.created_at).label("created_day"),
            local_day(c.resolved_at).label("resolved_day"),
            (sa.func.date_part("epoch", c.accepted_at - c.created_at) / 60).label("accept_minutes"),
            sa.func.date_part("epoch", c.resolved_at - c.created_at).label("resolve_seconds"),
        ),
        f,
    ).subquery("t")


GROUP_KEYS = ("category", "grid_id", "status", "created_day", "resolved_day", "rating")


def _dashboard_groups(t: Any, open_statuses: Sequence[str], targets: ResolveTargets) -> Any:
    """One pass, seven groupings: by category, grid, status, day reported, day resolved, rating
    and community (with the per-street table's figures)."""
    keys = tuple(t.c[k] for k in (*GROUP_KEYS, "community_id"))
    resolved = t.c.resolved_at.is_not(None)
    rated = sa.and_(t.c.rating.is_not(None), t.c.rating != 0)
    target = _target_expression(t.c.category, t.c.priority, targets)
    return sa.select(
        *keys,
        *(sa.func.grouping(k).label(f"g_{k.name}") for k in keys),
        sa.func.count().label("n"),
        sa.func.min(t.c.id).label("first"),
        sa.func.count().filter(t.c.status.in_(list(open_statuses))).label("open"),
        sa.func.count().filter(resolved).label("resolved"),
        sa.func.count().filter(sa.and_(resolved, t.c.resolve_seconds <= target)).label("in_time"),
        sa.func.count().filter(rated).label("rated"),
        sa.func.coalesce(sa.func.sum(t.c.rating).filter(rated), 0).label("rating_sum"),
    ).group_by(sa.func.grouping_sets(*(sa.tuple_(k) for k in keys)))


def _dashboard_totals(t: Any, open_statuses: Sequence[str], targets: ResolveTargets) -> Any:
    resolved = t.c.resolved_at.is_not(None)
    target = _target_expression(t.c.category, t.c.priority, targets)
    return sa.select(
        sa.func.count().label("total"),
        sa.func.count().filter(t.c.status.in_(list(open_statuses))).label("open"),
        sa.func.count().filter(resolved).label("resolved"),
        sa.func.count().filter(sa.and_(resolved, t.c.resolve_seconds <= target)).label("in_time"),
        # percentile_cont skips NULLs: the unaccepted and unresolved do not count
        sa.func.percentile_cont(0.5).within_group(t.c.accept_minutes).label("median_accept"),
        sa.func.percentile_cont(0.5).within_group(t.c.resolve_seconds / 60).label("median_resolve"),
    )


def _target_expression(category: Any, priority: Any, targets: ResolveTargets) -> Any:
    def by_priority(mapping: Mapping[str, float], otherwise: Any) -> Any:
        if not mapping:
            return otherwise
        return sa.case(
            {p: sa.literal(float(s)) for p, s in sorted(mapping.items())},
            value=priority,
            else_=otherwise,
        )

    default = by_priority(targets.by_priority, sa.literal(float(targets.fallback)))
    if not targets.by_category:
        return default
    return sa.case(
        {k: by_priority(own, default) for k, own in sorted(targets.by_category.items())},
        value=category,
        else_=default,
    )


def _dashboard_from_rows(groups: Sequence[Any], totals: Any) -> DashboardCounts:
    found: dict[str, list[tuple[Any, int, int]]] = {}
    communities: list[tuple[int, CommunityCounts]] = []
    for row in groups:
        for key in GROUP_KEYS:
            if getattr(row, f"g_{key}") == 0:  # grouped by this key in this row
                found.setdefault(key, []).append((getattr(row, key), int(row.n), int(row.first)))
        if row.g_community_id == 0:
            counts = CommunityCounts(
                row.community_id,
                int(row.n),
                int(row.open),
                int(row.resolved),
                int(row.in_time),
                int(row.rated),
                int(row.rating_sum),
            )
            communities.append((int(row.first), counts))

    def ordered(key: str) -> list[tuple[Any, int]]:
        return [(k, n) for k, n, _ in sorted(found.get(key, []), key=lambda x: x[2])]

    def median(value: Any) -> float | None:
        return None if value is None else float(value)

    return DashboardCounts(
        total=int(totals.total),
        open=int(totals.open),
        by_category=ordered("category"),
        by_grid=ordered("grid_id"),
        by_status=ordered("status"),
        created_per_day=dict(ordered("created_day")),
        resolved_per_day={d: n for d, n in ordered("resolved_day") if d is not None},
        ratings={int(r): n for r, n in ordered("rating") if r},
        median_accept_minutes=median(totals.median_accept),
        median_resolve_minutes=median(totals.median_resolve),
        resolved=int(totals.resolved),
        resolved_in_time=int(totals.in_time),
        by_community=[c for _, c in sorted(communities, key=lambda x: x[0])],
    )


def _dashboard_of(
    timings: Sequence[TicketTiming],
    open_statuses: Sequence[str],
    targets: ResolveTargets,
    zone: ZoneInfo,
) -> DashboardCounts:
    accept = [(t.accepted_at - t.created_at).total_seconds() / 60 for t in timings if t.accepted_at]
    resolve = [(t.resolved_at - t.created_at).total_seconds() for t in timings if t.resolved_at]

    def on_time(t: TicketTiming) -> bool:
        seconds = (t.resolved_at - t.created_at).total_seconds() if t.resolved_at else None
        return seconds is not None and seconds <= targets.seconds(t.category, t.priority)

    in_time = sum(1 for t in timings if on_time(t))
    per_community: dict[int | None, list[TicketTiming]] = {}
    for t in timings:
        per_community.setdefault(t.community_id, []).append(t)
    return DashboardCounts(
        total=len(timings),
        open=sum(1 for t in timings if t.status in open_statuses),
        by_category=list(Counter(t.category for t in timings).items()),
        by_grid=list(Counter(t.grid_id for t in timings).items()),
        by_status=list(Counter(t.status for t in timings).items()),
        created_per_day=dict(Counter(t.created_at.astimezone(zone).date() for t in timings)),
        resolved_per_day=dict(
            Counter(t.resolved_at.astimezone(zone).date() for t in timings if t.resolved_at)
        ),
        ratings=dict(Counter(t.rating for t in timings if t.rating)),
        median_accept_minutes=statistics.median(accept) if accept else None,
        median_resolve_minutes=statistics.median([s / 60 for s in resolve]) if resolve else None,
        resolved=len(resolve),
        resolved_in_time=in_time,
        by_community=[
            CommunityCounts(
                community_id,
                len(items),
                sum(1 for t in items if t.status in open_statuses),
                sum(1 for t in items if t.resolved_at),
                sum(1 for t in items if on_time(t)),
                sum(1 for t in items if t.rating),
                sum(t.rating or 0 for t in items),
            )
            for community_id, items in per_community.items()
        ],
    )
