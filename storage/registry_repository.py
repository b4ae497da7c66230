"""The building registry: communities, grids, buildings, workers, residents and their
channel identities.

SQL over one AsyncSession, the same on SQLite and PostgreSQL (see storage/repositories.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import DuplicateError, NotFound
from storage.interfaces import RoutingScope
from storage.models import (
    AdminToken,
    AdminUser,
    Attachment,
    AuditLog,
    Building,
    ChannelIdentity,
    CityOrder,
    Community,
    Department,
    DepartmentContact,
    Grid,
    GridWorker,
    Handoff,
    HandoffMessage,
    Hotspot,
    InboundMessage,
    Mailbox,
    NluExample,
    Notice,
    NoticeOptOut,
    Outbox,
    QrScene,
    Resident,
    ReviewDecision,
    Street,
    TaskCard,
    Ticket,
    TicketClock,
    TicketCounter,
    TicketEvent,
    TicketFollower,
    TicketParty,
    WorkerBindCode,
)
from storage.models_people import BuildingHelper, HelperBuilding, LinkCode, TicketHelper
from storage.sql_common import OPEN_STATUSES, table_of


def building_code(community: str, building: str) -> str:
    """A building's stable QR code: the same names give the same code on every install and
    after every rebuild (ASCII, well under WeChat's 64-character scene_str)."""
    digest = hashlib.sha256(f"{community.strip()}\x1f{building.strip()}".encode()).hexdigest()
    return f"b1.{digest[:16]}"


# what the dialogue's building index is made of, hashed row by row and summed: a few ms for a
# city's 40,000 buildings, against a second to load and index them again
_FINGERPRINT = """
SELECT
    (SELECT count(*) FROM building),
    (SELECT coalesce(sum(hashtext(concat_ws('|', id, community_id, grid_id, name, aliases::text,
        latitude, longitude))::bigint), 0) FROM building),
    (SELECT count(*) FROM community),
    (SELECT coalesce(sum(hashtext(concat_ws('|', id, name, street))::bigint), 0) FROM community)
"""


class SqlRegistry:
    """Communities, grids, buildings, workers, residents and their channel identities."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        # identities this unit of work already read or created: one message's turn asks for
        # the sender's several times (routing, the resident, the worker's touch); the session
        # holds the same object, so asking the database again only costs a round trip
        self._identities: dict[tuple[str, str], ChannelIdentity] = {}
        # the session's identity map holds rows weakly: a community read by the routing, the
        # SLA policy and the reply in turn would be selected three times; holding it here lets
        # ``session.get`` answer from the map (it still reloads what a commit expired)
        self._communities: dict[int, Community] = {}

    async def communities(self, *, ids: Sequence[int] | None = None) -> Sequence[Community]:
        query = select(Community).order_by(col(Community.id))
        if ids is not None:
            query = query.where(col(Community.id).in_(sorted(set(ids))))
        return (await self.s.exec(query)).all()

    async def community(self, community_id: int) -> Community | None:
        found = await self.s.get(Community, community_id)
        if found is not None:
            self._communities[community_id] = found
        return found

    async def community_by_name(self, name: str) -> Community | None:
        return (await self.s.exec(select(Community).where(Community.name == name))).first()

    async def grids(
        self, community_id: int | None = None, *, ids: Sequence[int] | None = None
    ) -> Sequence[Grid]:
        query = select(Grid).order_by(col(Grid.id))
        if community_id is not None:
            query = query.where(Grid.community_id == community_id)
        if ids is not None:
            query = query.where(col(Grid.id).in_(sorted(set(ids))))
        return (await self.s.exec(query)).all()

    async def grid(self, grid_id: int) -> Grid | None:
        return await self.s.get(Grid, grid_id)

    async def fingerprint(self) -> str | None:
        if self.s.get_bind().dialect.name != "postgresql":
            return None
        row = (await self.s.execute(sa.text(_FINGERPRINT))).one()
        return ":".join(str(v) for v in row)

    async def buildings(
        self, community_id: int | None = None, *, ids: Sequence[int] | None = None
    ) -> Sequence[Building]:
        query = select(Building).order_by(col(Building.id))
        if community_id is not None:
            query = query.where(Building.community_id == community_id)
        if ids is not None:
            query = query.where(col(Building.id).in_(sorted(set(ids))))
        return (await self.s.exec(query)).all()

    async def building(self, building_id: int) -> Building | None:
        return await self.s.get(Building, building_id)

    async def workers(
        self,
        community_id: int | None = None,
        *,
        street_ids: Sequence[int] | None = None,
        ids: Sequence[int] | None = None,
    ) -> Sequence[GridWorker]:
        query = select(GridWorker).order_by(col(GridWorker.id))
        if community_id is not None:
            query = query.where(GridWorker.community_id == community_id)
        if street_ids is not None:
            query = query.where(col(GridWorker.street_id).in_(sorted(set(street_ids))))
        if ids is not None:
            query = query.where(col(GridWorker.id).in_(sorted(set(ids))))
        return (await self.s.exec(query)).all()

    async def worker(self, worker_id: int) -> GridWorker | None:
        return await self.s.get(GridWorker, worker_id)

    async def routing_scope(self, community_id: int, grid_id: int | None) -> RoutingScope:
        in_scope: sa.ColumnElement[bool] = col(Community.id) == community_id
        if grid_id is not None:  # a grid of another community brings that community in
            other = select(Grid.community_id).where(Grid.id == grid_id).scalar_subquery()
            in_scope = sa.or_(in_scope, col(Community.id) == other)
        places = (
            await self.s.execute(
                select(Community.id, Community.street_id, Grid)
                .select_from(Community)
                .outerjoin(Grid, col(Grid.community_id) == col(Community.id))
                .where(in_scope)
                .order_by(col(Grid.id))
            )
        ).all()
        # the ticket's community first, then the grid's
        scope = sorted({int(c) for c, _, _ in places}, key=lambda c: c != community_id)
        street_of = {int(c): int(s) for c, s, _ in places if s is not None}
        grids = sorted(
            (g for _, _, g in places if g is not None),
            key=lambda g: (scope.index(g.community_id), g.id or 0),
        )
        if not scope:
            return RoutingScope([], [], {}, {})
        t = table_of(Ticket).c
        open_tickets = (
            sa.select(sa.func.count())
            .where(t.assignee_id == GridWorker.id, t.status.in_(OPEN_STATUSES))
            .correlate(GridWorker)
            .scalar_subquery()
        )
        reach: sa.ColumnElement[bool] = col(GridWorker.community_id).in_(scope)
        if street_of:
            reach = sa.or_(reach, col(GridWorker.street_id).in_(sorted(set(street_of.values()))))
        found = (
            await self.s.execute(
                select(GridWorker, open_tickets).where(reach).order_by(col(GridWorker.id))
            )
        ).all()
        rank = {c: i for i, c in enumerate(scope)}
        workers = sorted(
            (w for w, _ in found),
            key=lambda w: (rank.get(w.community_id, len(scope)), w.id or 0),
        )
        counts = {int(w.id): int(n) for w, n in found if w.id is not None and n}
        return RoutingScope(grids, workers, counts, street_of)

    async def identity(self, channel: str, user_id: str) -> ChannelIdentity | None:
        known = self._identities.get((channel, user_id))
        if known is not None and self._current(known, channel, user_id):
            return known
        query = select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id
        )
        found = (await self.s.exec(query)).first()
        if found is not None:
            self._identities[(channel, user_id)] = found
        return found

    def _current(self, ident: ChannelIdentity, channel: str, user_id: str) -> bool:
        """Still this session's live, loaded row for that key (not expired by a commit)."""
        state = sa.inspect(ident)
        return (
            ident in self.s
            and not state.deleted
            and not state.was_deleted
            and not state.expired_attributes
            and (ident.channel, ident.user_id) == (channel, user_id)
        )

    async def worker_identities(self, worker_id: int) -> Sequence[ChannelIdentity]:
        """A worker's channels, preferred first."""
        query = (
            select(ChannelIdentity)
            .where(ChannelIdentity.worker_id == worker_id)
            .order_by(col(ChannelIdentity.priority), col(ChannelIdentity.id))
        )
        return (await self.s.exec(query)).all()

    async def resident(self, resident_id: int) -> Resident | None:
        return await self.s.get(Resident, resident_id)

    async def ensure_resident(
        self, channel: str, user_id: str, *, locale: str = "zh", now: datetime | None = None
    ) -> tuple[Resident, ChannelIdentity]:
        """The resident behind a channel identity, created on first contact."""
        ident = await self.identity(channel, user_id)
        if ident is not None and ident.resident_id is not None:
            resident = await self.s.get(Resident, ident.resident_id)
            if resident is None:  # pragma: no cover - FK guarantees it
                raise NotFound(f"resident {ident.resident_id}")
            if now is not None:
                ident.last_inbound_at = now
                self.s.add(ident)
            return resident, ident
        resident = Resident(locale=locale)
        self.s.add(resident)
        await self.s.flush()
        if ident is None:
            ident = ChannelIdentity(channel=channel, user_id=user_id)
        ident.resident_id = resident.id
        ident.last_inbound_at = now
        self.s.add(ident)
        await self.s.flush()
        self._identities[(channel, user_id)] = ident
        return resident, ident

    async def touch_identity(self, channel: str, user_id: str, now: datetime) -> None:
        ident = await self.identity(channel, user_id)
        if ident is not None:
            ident.last_inbound_at = now
            ident.reachable = True
            self.s.add(ident)

    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> None:
        ident = await self.identity(channel, user_id)
        if ident is not None:
            ident.reachable = reachable
            self.s.add(ident)

    async def bind_worker_identity(
        self, worker_id: int, channel: str, user_id: str, *, priority: int = 0
    ) -> ChannelIdentity:
        ident = await self.identity(channel, user_id)
        if ident is None:
            ident = ChannelIdentity(channel=channel, user_id=user_id)
        ident.worker_id = worker_id
        ident.priority = priority
        ident.reachable = True
        self.s.add(ident)
        await self.s.flush()
        self._identities[(channel, user_id)] = ident
        return ident

    async def building_by_code(self, code: str) -> Building | None:
        if not code:
            return None
        return (await self.s.exec(select(Building).where(Building.code == code))).first()

    async def building_by_scene(self, scene: str) -> Building | None:
        """The building a stairwell QR code's scene names: its stable code (``scene_str``) or
        an old numeric scene recorded when it was printed (never a bare row id: ids change
        when the registry is rebuilt)."""
        if scene.isdigit() and len(scene) <= 18:
            legacy = await self.s.get(QrScene, int(scene))
            return await self.building_by_code(legacy.building_code) if legacy else None
        return await self.building_by_code(scene)

    async def map_scene(self, scene_id: int, building_code: str) -> None:
        row = await self.s.get(QrScene, scene_id)
        if row is None:
            self.s.add(QrScene(scene_id=scene_id, building_code=building_code))
        else:
            row.building_code = building_code
            self.s.add(row)
        await self.s.flush()

    async def _with_code(self, obj: Any) -> None:
        if isinstance(obj, Building) and not obj.code:
            community = await self.s.get(Community, obj.community_id)
            obj.code = building_code(community.name if community else "", obj.name)

    async def add(self, obj: Any) -> Any:
        """Add any registry row (community, grid, building, worker) and flush to get its id."""
        await self._with_code(obj)
        self.s.add(obj)
        try:
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(str(e.orig)) from e
        return obj

    async def save(self, obj: Any) -> None:
        await self._with_code(obj)
        self.s.add(obj)
        await self.s.flush()

    async def delete_all(self) -> None:
        """Remove every row (demo reset). Order respects foreign keys.

        Training data stays; examples promoted from a community's residents lose that
        community (they are masked already) since the community itself is gone.
        """
        await self.s.execute(sa.update(NluExample).values(community_id=None))
        for table in (
            # the whole grid's rows point at residents, buildings, communities and staff
            HandoffMessage,
            Handoff,
            NoticeOptOut,
            Notice,
            Hotspot,
            TicketHelper,
            LinkCode,
            HelperBuilding,
            BuildingHelper,
            TaskCard,
            WorkerBindCode,
            TicketClock,
            TicketFollower,
            TicketParty,
            DepartmentContact,
            Department,
            # admin console rows point at communities and workers (storage/admin_repositories)
            ReviewDecision,
            AdminToken,
            AuditLog,
            AdminUser,
            Mailbox,
            Outbox,
            TicketEvent,
            Attachment,
            CityOrder,  # the street level's 12345 hand-offs point at tickets
            Ticket,
            TicketCounter,
            InboundMessage,
            ChannelIdentity,
            Resident,
            GridWorker,
            Building,
        ):
            await self.s.execute(sa.delete(table))
        # grids reference their parents: children first
        await self.s.execute(sa.delete(Grid).where(col(Grid.parent_id).is_not(None)))
        await self.s.execute(sa.delete(Grid))
        await self.s.execute(sa.delete(Community))
        await self.s.execute(sa.delete(Street))
