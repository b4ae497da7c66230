"""The registry (I/O): communities, the grid tree, buildings, workers and their chat accounts.

Every change is validated in full (``handlers.registry_rules``) and allowed by
``handlers.permissions`` before anything is written, and runs in one transaction with its
audit entry. ``on_change`` is called after a change (the conversation service drops its
cached building list so routing sees the change at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import Conflict, InvalidInput, NotAllowed, NotFound
from handlers.guards import require
from handlers.permissions import Action, CommunityTarget, communities_for, may
from handlers.ports import Clock
from handlers.registry_rules import (
    BuildingIn,
    CommunityIn,
    GridIn,
    WorkerIn,
    WorkerPatch,
    name_clash,
)
from handlers.street_registry import assign_street
from storage.errors import DuplicateError
from storage.interfaces import Store, UnitOfWork
from storage.models import Building, Community, Grid, GridWorker


@dataclass(slots=True)
class RegistryView:
    """The part of the registry an account may see."""

    communities: list[Community]
    grids: list[Grid]
    buildings: list[Building]
    workers: list[GridWorker]
    channels: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "communities": [
                {"id": c.id, "name": c.name, "street": c.street, "hotline": c.hotline}
                for c in self.communities
            ],
            "grids": [
                {
                    "id": g.id,
                    "community_id": g.community_id,
                    "name": g.name,
                    "parent_id": g.parent_id,
                    "level": g.level,
                }
                for g in self.grids
            ],
            "buildings": [
                {
                    "id": b.id,
                    "community_id": b.community_id,
                    "name": b.name,
                    "grid_id": b.grid_id,
                    "aliases": list(b.aliases or []),
                    "latitude": b.latitude,
                    "longitude": b.longitude,
                }
                for b in self.buildings
            ],
            "workers": [
                {
                    "id": w.id,
                    "community_id": w.community_id,
                    "name": w.name,
                    "role": w.role,
                    "grid_id": w.grid_id,
                    "phone": w.phone,
                    "on_duty": w.on_duty,
                    "active": w.active,
                    "channels": [
                        {"channel": ch, "user_id": uid}
                        for ch, uid in self.channels.get(w.id or 0, [])
                    ],
                }
                for w in self.workers
            ],
        }

    def tree(self, community_id: int) -> list[dict[str, Any]]:
        """The grid tree of a community: [{grid, buildings, workers, children}]."""

        def node(grid: Grid) -> dict[str, Any]:
            return {
                "grid": grid,
                "buildings": [b for b in self.buildings if b.grid_id == grid.id],
                "workers": [w for w in self.workers if w.grid_id == grid.id],
                "children": [node(g) for g in self.grids if g.parent_id == grid.id],
            }

        return [
            node(g) for g in self.grids if g.community_id == community_id and g.parent_id is None
        ]


async def _grid_of(uow: UnitOfWork, community_id: int, grid_id: int | None) -> None:
    if grid_id is None:
        return
    grid = await uow.registry.grid(grid_id)
    if grid is None or grid.community_id != community_id:
        raise InvalidInput(f"网格 #{grid_id} 不属于该社区")


async def _community(uow: UnitOfWork, p: Principal, community_id: int) -> Community:
    require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(community_id))
    community = await uow.registry.community(community_id)
    if community is None:
        raise NotFound("没有这个社区")
    return community


async def _add(uow: UnitOfWork, row: Community | Grid | Building, clash: str) -> None:
    """Store a registry row; a name taken meanwhile (unique index) is a clear 409."""
    try:
        await uow.registry.add(row)
    except DuplicateError as e:
        raise Conflict(clash) from e


async def _check_worker(
    uow: UnitOfWork, p: Principal, body: WorkerIn, worker_id: int | None
) -> None:
    await _grid_of(uow, body.community_id, body.grid_id)
    same = [
        w
        for w in await uow.registry.workers(body.community_id)
        if w.name == body.name and w.id != worker_id
    ]
    if same:
        raise Conflict(f"本社区已有名为“{body.name}”的人员，请用不同的称呼区分（如“{body.name}2”）")
    seen: set[tuple[str, str]] = set()
    for ref in body.channels:
        key = (ref.channel, ref.user_id)
        if key in seen:
            raise InvalidInput(f"渠道 {ref.channel}:{ref.user_id} 重复")
        seen.add(key)
        ident = await uow.registry.identity(ref.channel, ref.user_id)
        if ident is not None and ident.worker_id not in (None, worker_id):
            raise Conflict(f"渠道账号 {ref.channel}:{ref.user_id} 已绑定其他人员")
        refusal = await binding_refusal(uow, p, ref.channel, ref.user_id, body.community_id)
        if refusal:
            raise NotAllowed(refusal)


async def binding_refusal(
    uow: UnitOfWork, p: Principal, channel: str, user_id: str, community_id: int
) -> str | None:
    """Why the principal may not make this chat account a worker of the community, if not.

    A resident's account belongs to the resident's community: staff bind only their own
    community's residents (an account of nobody yet, or of a resident whose community is
    unknown, joins the worker's community).
    """
    ident = await uow.registry.identity(channel, user_id)
    if ident is None or ident.resident_id is None:
        return None
    resident = await uow.registry.resident(ident.resident_id)
    owner = resident.community_id if resident and resident.community_id else community_id
    if may(p.subject, Action.BIND_IDENTITY, CommunityTarget(owner), {}):
        return None
    return f"渠道账号 {channel}:{user_id} 属于其他社区的居民，不能绑定为本社区人员"


class RegistryDesk:
    """Reads and changes the registry on behalf of a console account.

    Args:
        store: units of work over the database.
        clock: the time source.
        on_change: called after a committed change.
    """

    def __init__(
        self, store: Store, clock: Clock, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    async def load(self, p: Principal, community_id: int | None = None) -> RegistryView:
        scope = communities_for(p.subject, Action.MANAGE_REGISTRY)
        async with self.store.unit() as uow:
            communities = [
                x for x in await uow.registry.communities() if scope is None or x.id in scope
            ]
            allowed = {x.id for x in communities}
            if community_id is not None:
                if community_id not in allowed:
                    raise NotFound("没有这个社区")
                allowed = {community_id}
            grids = [g for g in await uow.registry.grids() if g.community_id in allowed]
            buildings = [b for b in await uow.registry.buildings() if b.community_id in allowed]
            workers = [w for w in await uow.registry.workers() if w.community_id in allowed]
            channels = {
                w.id or 0: [
                    (i.channel, i.user_id) for i in await uow.registry.worker_identities(w.id or 0)
                ]
                for w in workers
            }
        return RegistryView(communities, grids, buildings, workers, channels)

    async def _audit_save(
        self,
        uow: UnitOfWork,
        p: Principal,
        kind: str,
        row: Community | Grid | Building | GridWorker,
        *,
        created: bool,
        before: dict[str, Any],
        after: dict[str, Any],
        ip: str,
    ) -> None:
        await audit_service.record(
            uow,
            p,
            f"registry.{kind}." + ("create" if created else "update"),
            now=self.clock.now(),
            target_type=kind,
            target_id=row.id or "",
            summary=row.name,
            before=before,
            after=after,
            ip=ip,
        )

    async def save_community(
        self, p: Principal, body: CommunityIn, community_id: int | None = None, ip: str = ""
    ) -> int:
        async with self.store.unit() as uow:
            if community_id is None:
                require(p.subject, Action.CREATE_COMMUNITY)
                if await uow.registry.community_by_name(body.name.strip()) is not None:
                    raise Conflict(f"社区“{body.name}”已存在")
                row = Community(name=body.name.strip(), hotline=body.hotline)
                before: dict[str, Any] = {}
            else:
                row = await _community(uow, p, community_id)
                other = await uow.registry.community_by_name(body.name.strip())
                if other is not None and other.id != community_id:
                    raise Conflict(f"社区“{body.name}”已存在")
                before = {"name": row.name, "street": row.street, "hotline": row.hotline}
                row.name, row.hotline = body.name.strip(), body.hotline
            await assign_street(uow, row, body.street)  # the street row, created when new
            await _add(uow, row, f"社区“{body.name}”已存在")
            await self._audit_save(
                uow,
                p,
                "community",
                row,
                created=community_id is None,
                before=before,
                after=body.model_dump(),
                ip=ip,
            )
        self.on_change()
        return row.id or 0

    async def save_grid(
        self, p: Principal, body: GridIn, grid_id: int | None = None, ip: str = ""
    ) -> int:
        async with self.store.unit() as uow:
            await _community(uow, p, body.community_id)
            siblings = await uow.registry.grids(body.community_id)
            if any(g.name == body.name.strip() and g.id != grid_id for g in siblings):
                raise Conflict(f"网格“{body.name}”已存在")
            if body.parent_id is not None:
                await _grid_of(uow, body.community_id, body.parent_id)
                # the parent must not be this grid or below it (no cycles in the tree)
                parents = {g.id: g.parent_id for g in siblings}
                cursor: int | None = body.parent_id
                while cursor is not None:
                    if cursor == grid_id:
                        raise InvalidInput("上级网格不能是它自己或它的下级")
                    cursor = parents.get(cursor)
            if grid_id is None:
                row = Grid(community_id=body.community_id, name=body.name.strip())
                before: dict[str, Any] = {}
            else:
                found = await uow.registry.grid(grid_id)
                if found is None or found.community_id != body.community_id:
                    raise NotFound("没有这个网格")
                row = found
                before = {"name": row.name, "parent_id": row.parent_id, "level": row.level}
            row.name, row.parent_id, row.level = body.name.strip(), body.parent_id, body.level
            await _add(uow, row, f"网格“{body.name}”已存在")
            await self._audit_save(
                uow,
                p,
                "grid",
                row,
                created=grid_id is None,
                before=before,
                after=body.model_dump(),
                ip=ip,
            )
        self.on_change()
        return row.id or 0

    async def save_building(
        self, p: Principal, body: BuildingIn, building_id: int | None = None, ip: str = ""
    ) -> int:
        async with self.store.unit() as uow:
            await _community(uow, p, body.community_id)
            await _grid_of(uow, body.community_id, body.grid_id)
            aliases = [a for a in body.aliases if a != body.name]
            clash = name_clash(
                await uow.registry.buildings(body.community_id), body.name, aliases, building_id
            )
            if clash:
                raise Conflict(clash)
            if building_id is None:
                row = Building(community_id=body.community_id, name=body.name)
                before: dict[str, Any] = {}
            else:
                found = await uow.registry.building(building_id)
                if found is None or found.community_id != body.community_id:
                    raise NotFound("没有这个楼栋")
                row = found
                before = {"name": row.name, "grid_id": row.grid_id, "aliases": list(row.aliases)}
            row.name, row.grid_id, row.aliases = body.name, body.grid_id, aliases
            row.latitude, row.longitude = body.latitude, body.longitude
            await _add(uow, row, f"楼栋“{body.name}”已存在")
            await self._audit_save(
                uow,
                p,
                "building",
                row,
                created=building_id is None,
                before=before,
                after={"name": row.name, "grid_id": row.grid_id, "aliases": aliases},
                ip=ip,
            )
        self.on_change()
        return row.id or 0

    async def save_worker(
        self, p: Principal, body: WorkerIn, worker_id: int | None = None, ip: str = ""
    ) -> int:
        async with self.store.unit() as uow:
            await _community(uow, p, body.community_id)
            await _check_worker(uow, p, body, worker_id)
            if worker_id is None:
                row = GridWorker(name=body.name, community_id=body.community_id)
                before: dict[str, Any] = {}
            else:
                found = await uow.registry.worker(worker_id)
                if found is None or found.community_id != body.community_id:
                    raise NotFound("没有这个人员")
                row = found
                before = {"name": row.name, "role": row.role, "grid_id": row.grid_id}
            row.name, row.role, row.grid_id = body.name, body.role, body.grid_id
            row.phone, row.on_duty, row.active = body.phone.strip(), body.on_duty, body.active
            await uow.registry.add(row)
            try:
                await uow.admin.set_worker_identities(
                    row.id or 0, [(ch.channel, ch.user_id) for ch in body.channels]
                )
            except DuplicateError as e:
                raise Conflict("渠道账号已绑定其他人员") from e
            await self._audit_save(
                uow,
                p,
                "worker",
                row,
                created=worker_id is None,
                before=before,
                after={"name": row.name, "role": row.role, "grid_id": row.grid_id},
                ip=ip,
            )
        self.on_change()
        return row.id or 0

    async def patch_worker(
        self, p: Principal, worker_id: int, body: WorkerPatch, ip: str = ""
    ) -> None:
        async with self.store.unit() as uow:
            row = await uow.registry.worker(worker_id)
            if row is None:
                raise NotFound("没有这个人员")
            require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(row.community_id))
            before = {"on_duty": row.on_duty, "active": row.active}
            if body.on_duty is not None:
                row.on_duty = body.on_duty
            if body.active is not None:
                row.active = body.active
            await uow.registry.save(row)
            await audit_service.record(
                uow,
                p,
                "registry.worker.update",
                now=self.clock.now(),
                target_type="worker",
                target_id=worker_id,
                summary=f"{row.name}：{'在岗' if row.on_duty else '不在岗'}，"
                f"{'启用' if row.active else '停用'}",
                before=before,
                after={"on_duty": row.on_duty, "active": row.active},
                ip=ip,
            )
        self.on_change()

    async def delete(self, p: Principal, kind: str, row_id: int, ip: str = "") -> None:
        """Delete a grid, building or worker that nothing refers to any more."""
        labels = {"grid": "网格", "building": "楼栋", "worker": "人员"}
        async with self.store.unit() as uow:
            row: Grid | Building | GridWorker | None
            if kind == "grid":
                row = await uow.registry.grid(row_id)
            elif kind == "building":
                row = await uow.registry.building(row_id)
            elif kind == "worker":
                row = await uow.registry.worker(row_id)
            else:
                raise NotFound("未知类型")
            if row is None:
                raise NotFound(f"没有这个{labels[kind]}")
            require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(row.community_id))
            used = await uow.admin.references(kind, row_id)
            if kind == "worker" and used == 0:
                await uow.admin.set_worker_identities(row_id, [])
            if used:
                hint = "可改为停用" if kind == "worker" else "请先调整关联数据"
                raise Conflict(
                    f"{labels[kind]}“{row.name}”仍有 {used} 条关联记录，不能删除，{hint}"
                )
            await uow.admin.delete_row(row)
            await audit_service.record(
                uow,
                p,
                f"registry.{kind}.delete",
                now=self.clock.now(),
                target_type=kind,
                target_id=row_id,
                summary=row.name,
                before={"name": row.name},
                ip=ip,
            )
        self.on_change()
