"""The registry in the console: communities, the grid tree, buildings, workers; CSV in and out.

Every change is validated in full before anything is written and runs in one transaction
with its audit entry; a CSV import is all-or-nothing with an error for each bad row. After a
change the service's cached building list is dropped so routing sees it at once (other
processes refresh within seconds).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.admin.errors import BadInput, Conflict, Missing
from bot.container import Container
from handlers import audit
from handlers.accounts import Principal
from handlers.guards import require, require_some
from handlers.permissions import Action, CommunityTarget, communities_for
from storage.errors import DuplicateError
from storage.interfaces import UnitOfWork
from storage.models import Building, Community, Grid, GridWorker

MAX_CSV_ROWS = 5000
WORKER_ROLES = {"grid_worker": "网格员", "grid_leader": "网格长", "community_staff": "社区工作人员"}
_ROLE_BY_LABEL = {label: role for role, label in WORKER_ROLES.items()}
_ALIAS_SPLIT = re.compile(r"[;；,，、|\n]+")
_PHONE = re.compile(r"^[0-9+\- ]{0,30}$")
_CHANNEL = re.compile(r"^[a-z]{2,20}$")
_USER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")


def split_aliases(value: str | Sequence[str]) -> list[str]:
    parts = _ALIAS_SPLIT.split(value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        alias = part.strip()
        if alias and alias not in out:
            out.append(alias)
    return out


class CommunityIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    street: str = Field(default="", max_length=100)
    hotline: str = Field(default="", max_length=40)


class GridIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=100)
    parent_id: int | None = None
    level: Literal["grid", "micro_grid"] = "grid"


class BuildingIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=100)
    grid_id: int | None = None
    aliases: list[str] = Field(default_factory=list, max_length=30)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        if isinstance(value, str | list):
            aliases = split_aliases(value)
            if any(len(a) > 50 for a in aliases):
                raise ValueError("an alias is longer than 50 characters")
            return aliases
        return value

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name is empty")
        return value


class ChannelRef(BaseModel):
    channel: str = Field(pattern=_CHANNEL.pattern)
    user_id: str = Field(pattern=_USER_ID.pattern)


class WorkerIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=50)
    role: Literal["grid_worker", "grid_leader", "community_staff"] = "grid_worker"
    grid_id: int | None = None
    phone: str = Field(default="", pattern=_PHONE.pattern)
    on_duty: bool = True
    active: bool = True
    channels: list[ChannelRef] = Field(default_factory=list, max_length=10)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name is empty")
        return value


class WorkerPatch(BaseModel):
    on_duty: bool | None = None
    active: bool | None = None


# --- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class RegistryView:
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


async def load(c: Container, p: Principal, community_id: int | None = None) -> RegistryView:
    scope = communities_for(p.subject, Action.MANAGE_REGISTRY)
    async with c.store.unit() as uow:
        communities = [
            x for x in await uow.registry.communities() if scope is None or x.id in scope
        ]
        allowed = {x.id for x in communities}
        if community_id is not None:
            if community_id not in allowed:
                raise Missing("没有这个社区")
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


# --- validation shared by forms, the API and CSV imports ----------------------------------------


async def _grid_of(uow: UnitOfWork, community_id: int, grid_id: int | None) -> None:
    if grid_id is None:
        return
    grid = await uow.registry.grid(grid_id)
    if grid is None or grid.community_id != community_id:
        raise BadInput(f"网格 #{grid_id} 不属于该社区")


def _name_clash(
    buildings: Sequence[Building], name: str, aliases: Sequence[str], exclude: int | None
) -> str | None:
    """Why a building name/alias would be ambiguous among the community's buildings."""
    for other in buildings:
        if other.id == exclude:
            continue
        taken = {other.name, *(other.aliases or [])}
        if name in taken:
            return f"楼栋名“{name}”与“{other.name}”重复"
        for alias in aliases:
            if alias in taken:
                return f"别名“{alias}”已被“{other.name}”使用"
    return None


async def _community(uow: UnitOfWork, p: Principal, community_id: int) -> Community:
    require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(community_id))
    community = await uow.registry.community(community_id)
    if community is None:
        raise Missing("没有这个社区")
    return community


def _changed(c: Container) -> None:
    c.service.invalidate_registry()


# --- writes -----------------------------------------------------------------------------------


async def _add(uow: UnitOfWork, row: Community | Grid | Building, clash: str) -> None:
    """Store a registry row; a name taken meanwhile (unique index) is a clear 409."""
    try:
        await uow.registry.add(row)
    except DuplicateError as e:
        raise Conflict(clash) from e


async def _audit_save(
    uow: UnitOfWork,
    c: Container,
    p: Principal,
    kind: str,
    row: Community | Grid | Building | GridWorker,
    *,
    created: bool,
    before: dict[str, Any],
    after: dict[str, Any],
    ip: str,
) -> None:
    await audit.record(
        uow,
        p,
        f"registry.{kind}." + ("create" if created else "update"),
        now=c.clock.now(),
        target_type=kind,
        target_id=row.id or "",
        summary=row.name,
        before=before,
        after=after,
        ip=ip,
    )


async def save_community(
    c: Container, p: Principal, body: CommunityIn, community_id: int | None = None, ip: str = ""
) -> int:
    async with c.store.unit() as uow:
        if community_id is None:
            require(p.subject, Action.CREATE_COMMUNITY)
            if await uow.registry.community_by_name(body.name.strip()) is not None:
                raise Conflict(f"社区“{body.name}”已存在")
            row = Community(name=body.name.strip(), street=body.street, hotline=body.hotline)
            before: dict[str, Any] = {}
        else:
            row = await _community(uow, p, community_id)
            other = await uow.registry.community_by_name(body.name.strip())
            if other is not None and other.id != community_id:
                raise Conflict(f"社区“{body.name}”已存在")
            before = {"name": row.name, "street": row.street, "hotline": row.hotline}
            row.name, row.street, row.hotline = body.name.strip(), body.street, body.hotline
        await _add(uow, row, f"社区“{body.name}”已存在")
        await _audit_save(
            uow,
            c,
            p,
            "community",
            row,
            created=community_id is None,
            before=before,
            after=body.model_dump(),
            ip=ip,
        )
    _changed(c)
    return row.id or 0


async def save_grid(
    c: Container, p: Principal, body: GridIn, grid_id: int | None = None, ip: str = ""
) -> int:
    async with c.store.unit() as uow:
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
                    raise BadInput("上级网格不能是它自己或它的下级")
                cursor = parents.get(cursor)
        if grid_id is None:
            row = Grid(community_id=body.community_id, name=body.name.strip())
            before: dict[str, Any] = {}
        else:
            found = await uow.registry.grid(grid_id)
            if found is None or found.community_id != body.community_id:
                raise Missing("没有这个网格")
            row = found
            before = {"name": row.name, "parent_id": row.parent_id, "level": row.level}
        row.name, row.parent_id, row.level = body.name.strip(), body.parent_id, body.level
        await _add(uow, row, f"网格“{body.name}”已存在")
        await _audit_save(
            uow,
            c,
            p,
            "grid",
            row,
            created=grid_id is None,
            before=before,
            after=body.model_dump(),
            ip=ip,
        )
    _changed(c)
    return row.id or 0


async def save_building(
    c: Container, p: Principal, body: BuildingIn, building_id: int | None = None, ip: str = ""
) -> int:
    async with c.store.unit() as uow:
        await _community(uow, p, body.community_id)
        await _grid_of(uow, body.community_id, body.grid_id)
        aliases = [a for a in body.aliases if a != body.name]
        clash = _name_clash(
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
                raise Missing("没有这个楼栋")
            row = found
            before = {"name": row.name, "grid_id": row.grid_id, "aliases": list(row.aliases)}
        row.name, row.grid_id, row.aliases = body.name, body.grid_id, aliases
        row.latitude, row.longitude = body.latitude, body.longitude
        await _add(uow, row, f"楼栋“{body.name}”已存在")
        await _audit_save(
            uow,
            c,
            p,
            "building",
            row,
            created=building_id is None,
            before=before,
            after={"name": row.name, "grid_id": row.grid_id, "aliases": aliases},
            ip=ip,
        )
    _changed(c)
    return row.id or 0


async def _check_worker(uow: UnitOfWork, body: WorkerIn, worker_id: int | None) -> None:
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
            raise BadInput(f"渠道 {ref.channel}:{ref.user_id} 重复")
        seen.add(key)
        ident = await uow.registry.identity(ref.channel, ref.user_id)
        if ident is not None and ident.worker_id not in (None, worker_id):
            raise Conflict(f"渠道账号 {ref.channel}:{ref.user_id} 已绑定其他人员")


async def save_worker(
    c: Container, p: Principal, body: WorkerIn, worker_id: int | None = None, ip: str = ""
) -> int:
    async with c.store.unit() as uow:
        await _community(uow, p, body.community_id)
        await _check_worker(uow, body, worker_id)
        if worker_id is None:
            row = GridWorker(name=body.name, community_id=body.community_id)
            before: dict[str, Any] = {}
        else:
            found = await uow.registry.worker(worker_id)
            if found is None or found.community_id != body.community_id:
                raise Missing("没有这个人员")
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
        await _audit_save(
            uow,
            c,
            p,
            "worker",
            row,
            created=worker_id is None,
            before=before,
            after={"name": row.name, "role": row.role, "grid_id": row.grid_id},
            ip=ip,
        )
    _changed(c)
    return row.id or 0


async def patch_worker(
    c: Container, p: Principal, worker_id: int, body: WorkerPatch, ip: str = ""
) -> None:
    async with c.store.unit() as uow:
        row = await uow.registry.worker(worker_id)
        if row is None:
            raise Missing("没有这个人员")
        require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(row.community_id))
        before = {"on_duty": row.on_duty, "active": row.active}
        if body.on_duty is not None:
            row.on_duty = body.on_duty
        if body.active is not None:
            row.active = body.active
        await uow.registry.save(row)
        await audit.record(
            uow,
            p,
            "registry.worker.update",
            now=c.clock.now(),
            target_type="worker",
            target_id=worker_id,
            summary=f"{row.name}：{'在岗' if row.on_duty else '不在岗'}，"
            f"{'启用' if row.active else '停用'}",
            before=before,
            after={"on_duty": row.on_duty, "active": row.active},
            ip=ip,
        )
    _changed(c)


async def delete(c: Container, p: Principal, kind: str, row_id: int, ip: str = "") -> None:
    """Delete a grid, building or worker that nothing refers to any more."""
    labels = {"grid": "网格", "building": "楼栋", "worker": "人员"}
    async with c.store.unit() as uow:
        row: Grid | Building | GridWorker | None
        if kind == "grid":
            row = await uow.registry.grid(row_id)
        elif kind == "building":
            row = await uow.registry.building(row_id)
        elif kind == "worker":
            row = await uow.registry.worker(row_id)
        else:
            raise Missing("未知类型")
        if row is None:
            raise Missing(f"没有这个{labels[kind]}")
        require(p.subject, Action.MANAGE_REGISTRY, CommunityTarget(row.community_id))
        used = await uow.admin.references(kind, row_id)
        if kind == "worker" and used == 0:
            await uow.admin.set_worker_identities(row_id, [])
        if used:
            hint = "可改为停用" if kind == "worker" else "请先调整关联数据"
            raise Conflict(f"{labels[kind]}“{row.name}”仍有 {used} 条关联记录，不能删除，{hint}")
        await uow.admin.delete_row(row)
        await audit.record(
            uow,
            p,
            f"registry.{kind}.delete",
            now=c.clock.now(),
            target_type=kind,
            target_id=row_id,
            summary=row.name,
            before={"name": row.name},
            ip=ip,
        )
    _changed(c)


# --- CSV ----------------------------------------------------------------------------------------

BUILDING_COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "community"),
    "name": ("楼栋", "name", "building"),
    "grid": ("网格", "grid"),
    "aliases": ("别名", "aliases"),
    "latitude": ("纬度", "latitude", "lat"),
    "longitude": ("经度", "longitude", "lng", "lon"),
}
WORKER_COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "community"),
    "name": ("姓名", "name"),
    "role": ("角色", "role"),
    "grid": ("网格", "grid"),
    "phone": ("电话", "phone"),
    "on_duty": ("在岗", "on_duty"),
    "active": ("启用", "active"),
    "channels": ("渠道", "channels"),
}
_YES = {"是", "在岗", "yes", "y", "true", "1", "启用", ""}
_NO = {"否", "不在岗", "no", "n", "false", "0", "停用"}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # the line in the file (the header is line 1)
    message: str


class ImportFailed(BadInput):
    """A CSV import with bad rows: nothing was written; ``detail`` lists every row error."""


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Excel on Chinese Windows writes)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput("无法识别文件编码，请保存为 UTF-8 CSV")


def _rows(text: str, columns: dict[str, tuple[str, ...]]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadInput("文件是空的") from None
    index: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        for key, names in columns.items():
            if name in names:
                index[key] = i
    if "name" not in index:
        wanted = "、".join(names[0] for names in columns.values())
        raise BadInput(f"缺少表头，需要的列：{wanted}")
    out: list[tuple[int, dict[str, str]]] = []
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(out) >= MAX_CSV_ROWS:
            raise BadInput(f"一次最多导入 {MAX_CSV_ROWS} 行")
        out.append(
            (line, {k: _undefuse(values[i]) if i < len(values) else "" for k, i in index.items()})
        )
    if not out:
        raise BadInput("文件里没有数据行")
    return out


def _undefuse(value: str) -> str:
    """Undo the quote our export puts before a formula-like cell."""
    value = value.strip()
    if value[:2] in ("'=", "'+", "'-", "'@"):
        return value[1:]
    return value


def _flag(value: str, line: int, label: str, errors: list[RowError]) -> bool:
    lowered = value.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    errors.append(RowError(line, f"“{label}”应为 是/否，而不是“{value}”"))
    return True


def _validation(error: ValidationError) -> str:
    return "；".join(
        f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in error.errors()
    )


async def _import_context(
    uow: UnitOfWork, p: Principal, community_id: int | None
) -> tuple[dict[str, Community], Community | None]:
    scope = communities_for(p.subject, Action.MANAGE_REGISTRY)
    communities = {
        c.name: c for c in await uow.registry.communities() if scope is None or c.id in scope
    }
    default = None
    if community_id is not None:
        default = next((c for c in communities.values() if c.id == community_id), None)
        if default is None:
            raise Missing("没有这个社区")
    elif len(communities) == 1:
        default = next(iter(communities.values()))
    return communities, default


def _community_of(
    row: dict[str, str],
    line: int,
    communities: dict[str, Community],
    default: Community | None,
    errors: list[RowError],
) -> Community | None:
    name = row.get("community", "")
    if not name:
        if default is None:
            errors.append(RowError(line, "请填写“社区”"))
        return default
    found = communities.get(name)
    if found is None:
        errors.append(RowError(line, f"没有（或无权管理）社区“{name}”"))
    return found


async def import_buildings(
    c: Container, p: Principal, data: bytes, *, community_id: int | None = None, ip: str = ""
) -> ImportResult:
    """Create or update buildings (keyed by community + name) from CSV; all or nothing."""

    require_some(p.subject, Action.MANAGE_REGISTRY)
    rows = _rows(decode_csv(data), BUILDING_COLUMNS)
    result = ImportResult()
    async with c.store.unit() as uow:
        communities, default = await _import_context(uow, p, community_id)
        errors: list[RowError] = []
        plans: list[tuple[int, BuildingIn, Building | None]] = []
        grids_by_community: dict[int, dict[str, Grid]] = {}
        buildings_by_community: dict[int, list[Building]] = {}
        seen: dict[tuple[int, str], int] = {}
        for line, row in rows:
            community = _community_of(row, line, communities, default, errors)
            if community is None or community.id is None:
                continue
            cid = community.id
            if cid not in grids_by_community:
                grids_by_community[cid] = {g.name: g for g in await uow.registry.grids(cid)}
                buildings_by_community[cid] = list(await uow.registry.buildings(cid))
            grid_name = row.get("grid", "")
            grid = grids_by_community[cid].get(grid_name) if grid_name else None
            if grid_name and grid is None:
                errors.append(RowError(line, f"社区“{community.name}”没有网格“{grid_name}”"))
                continue
            try:
                body = BuildingIn(
                    community_id=cid,
                    name=row.get("name", ""),
                    grid_id=grid.id if grid else None,
                    aliases=row.get("aliases", ""),
                    latitude=row.get("latitude") or None,
                    longitude=row.get("longitude") or None,
                )
            except ValidationError as e:
                errors.append(RowError(line, _validation(e)))
                continue
            key = (cid, body.name)
            if key in seen:
                errors.append(RowError(line, f"楼栋“{body.name}”在第 {seen[key]} 行已出现"))
                continue
            seen[key] = line
            existing = next((b for b in buildings_by_community[cid] if b.name == body.name), None)
            plans.append((line, body, existing))
        # ambiguous names/aliases, checked against the registry as it will be after the import
        for cid, current in buildings_by_community.items():
            planned = [(line, body, ex) for line, body, ex in plans if body.community_id == cid]
            replaced = {id(ex) for _, _, ex in planned if ex is not None}
            final: list[tuple[int | None, str, list[str]]] = [
                (None, b.name, list(b.aliases or [])) for b in current if id(b) not in replaced
            ]
            final += [
                (line, body.name, [a for a in body.aliases if a != body.name])
                for line, body, _ in planned
            ]
            errors.extend(_ambiguities(final))
        if errors:
            raise ImportFailed(
                f"有 {len(errors)} 行有误，未导入任何数据",
                detail=[{"row": e.row, "message": e.message} for e in sorted(errors, key=_line)],
            )
        for _, body, existing in plans:
            row_obj = existing or Building(community_id=body.community_id, name=body.name)
            row_obj.grid_id = body.grid_id
            row_obj.aliases = [a for a in body.aliases if a != body.name]
            row_obj.latitude, row_obj.longitude = body.latitude, body.longitude
            await uow.registry.add(row_obj)
            if existing is None:
                result.created += 1
            else:
                result.updated += 1
        await audit.record(
            uow,
            p,
            "registry.building.import",
            now=c.clock.now(),
            target_type="building",
            summary=f"导入楼栋：新增 {result.created}，更新 {result.updated}",
            after={"created": result.created, "updated": result.updated},
            ip=ip,
        )
    _changed(c)
    return result


def _line(error: RowError) -> int:
    return error.row


def _ambiguities(final: list[tuple[int | None, str, list[str]]]) -> list[RowError]:
    """Rows whose name or alias would also name another building of the community.

    ``final`` is (CSV line or None for an untouched building, name, aliases).
    """
    owners: dict[str, list[int]] = {}
    for index, (_, name, aliases) in enumerate(final):
        for token in {name, *aliases}:
            owners.setdefault(token, []).append(index)
    out: list[RowError] = []
    for index, (line, name, aliases) in enumerate(final):
        if line is None:
            continue
        for token in [name, *aliases]:
            others = [i for i in owners[token] if i != index]
            if others:
                other = final[others[0]][1]
                what = "楼栋名" if token == name else "别名"
                out.append(RowError(line, f"{what}“{token}”与楼栋“{other}”重复"))
                break
    return out


def _parse_channels(value: str, line: int, errors: list[RowError]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for part in split_aliases(value):
        channel, sep, user_id = part.partition(":")
        if not sep or not _CHANNEL.match(channel.strip()) or not _USER_ID.match(user_id.strip()):
            errors.append(RowError(line, f"渠道“{part}”格式应为 渠道:账号，如 web:worker-zhang"))
            continue
        out.append({"channel": channel.strip(), "user_id": user_id.strip()})
    return out


async def import_workers(
    c: Container, p: Principal, data: bytes, *, community_id: int | None = None, ip: str = ""
) -> ImportResult:
    """Create or update workers (keyed by community + name) from CSV; all or nothing."""

    require_some(p.subject, Action.MANAGE_REGISTRY)
    rows = _rows(decode_csv(data), WORKER_COLUMNS)
    result = ImportResult()
    async with c.store.unit() as uow:
        communities, default = await _import_context(uow, p, community_id)
        errors: list[RowError] = []
        plans: list[tuple[WorkerIn, GridWorker | None]] = []
        seen: dict[tuple[int, str], int] = {}
        claimed: dict[tuple[str, str], int] = {}
        for line, row in rows:
            community = _community_of(row, line, communities, default, errors)
            if community is None or community.id is None:
                continue
            cid = community.id
            grids = {g.name: g for g in await uow.registry.grids(cid)}
            grid_name = row.get("grid", "")
            if grid_name and grid_name not in grids:
                errors.append(RowError(line, f"社区“{community.name}”没有网格“{grid_name}”"))
                continue
            role_text = row.get("role", "") or "grid_worker"
            role = _ROLE_BY_LABEL.get(role_text, role_text)
            before = len(errors)
            on_duty = _flag(row.get("on_duty", ""), line, "在岗", errors)
            active = _flag(row.get("active", ""), line, "启用", errors)
            channels = _parse_channels(row.get("channels", ""), line, errors)
            if len(errors) > before:
                continue
            try:
                body = WorkerIn(
                    community_id=cid,
                    name=row.get("name", ""),
                    role=role,  # type: ignore[arg-type]  # validated by pydantic
                    grid_id=grids[grid_name].id if grid_name else None,
                    phone=row.get("phone", ""),
                    on_duty=on_duty,
                    active=active,
                    channels=[ChannelRef(**ch) for ch in channels],
                )
            except ValidationError as e:
                errors.append(RowError(line, _validation(e)))
                continue
            key = (cid, body.name)
            if key in seen:
                errors.append(RowError(line, f"“{body.name}”在第 {seen[key]} 行已出现"))
                continue
            seen[key] = line
            same = [w for w in await uow.registry.workers(cid) if w.name == body.name]
            if len(same) > 1:
                errors.append(RowError(line, f"本社区有多名“{body.name}”，无法确定更新哪一位"))
                continue
            existing = same[0] if same else None
            for ref in body.channels:
                ident = await uow.registry.identity(ref.channel, ref.user_id)
                owner = ident.worker_id if ident is not None else None
                if owner is not None and (existing is None or owner != existing.id):
                    errors.append(
                        RowError(line, f"渠道账号 {ref.channel}:{ref.user_id} 已绑定其他人员")
                    )
                if (ref.channel, ref.user_id) in claimed:
                    errors.append(
                        RowError(
                            line,
                            f"渠道账号 {ref.channel}:{ref.user_id} 在第 "
                            f"{claimed[(ref.channel, ref.user_id)]} 行已使用",
                        )
                    )
                claimed[(ref.channel, ref.user_id)] = line
            plans.append((body, existing))
        if errors:
            raise ImportFailed(
                f"有 {len(errors)} 行有误，未导入任何数据",
                detail=[{"row": e.row, "message": e.message} for e in sorted(errors, key=_line)],
            )
        for body, existing in plans:
            worker = existing or GridWorker(name=body.name, community_id=body.community_id)
            worker.role, worker.grid_id, worker.phone = body.role, body.grid_id, body.phone
            worker.on_duty, worker.active = body.on_duty, body.active
            await uow.registry.add(worker)
            if body.channels or existing is None:
                # an import without a channels column keeps the existing bindings
                await uow.admin.set_worker_identities(
                    worker.id or 0, [(ch.channel, ch.user_id) for ch in body.channels]
                )
            if existing is None:
                result.created += 1
            else:
                result.updated += 1
        await audit.record(
            uow,
            p,
            "registry.worker.import",
            now=c.clock.now(),
            target_type="worker",
            summary=f"导入人员：新增 {result.created}，更新 {result.updated}",
            after={"created": result.created, "updated": result.updated},
            ip=ip,
        )
    _changed(c)
    return result


_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _csv_cell(value: object) -> str:
    """Defuse spreadsheet formulas (=, +, -, @ at the start), but leave numbers alone."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@") and not _NUMBER.match(text):
        return "'" + text
    return text


async def export_buildings(c: Container, p: Principal, community_id: int | None = None) -> str:
    view = await load(c, p, community_id)
    names = {x.id: x.name for x in view.communities}
    grids = {g.id: g.name for g in view.grids}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([names[0] for names in BUILDING_COLUMNS.values()])
    for b in view.buildings:
        writer.writerow(
            [
                _csv_cell(x)
                for x in (
                    names.get(b.community_id, ""),
                    b.name,
                    grids.get(b.grid_id, "") if b.grid_id else "",
                    "；".join(b.aliases or []),
                    "" if b.latitude is None else b.latitude,
                    "" if b.longitude is None else b.longitude,
                )
            ]
        )
    return "\ufeff" + buffer.getvalue()


async def export_workers(c: Container, p: Principal, community_id: int | None = None) -> str:
    view = await load(c, p, community_id)
    names = {x.id: x.name for x in view.communities}
    grids = {g.id: g.name for g in view.grids}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([labels[0] for labels in WORKER_COLUMNS.values()])
    for w in view.workers:
        writer.writerow(
            [
                _csv_cell(x)
                for x in (
                    names.get(w.community_id, ""),
                    w.name,
                    WORKER_ROLES.get(w.role, w.role),
                    grids.get(w.grid_id, "") if w.grid_id else "",
                    w.phone,
                    "是" if w.on_duty else "否",
                    "是" if w.active else "否",
                    "；".join(f"{ch}:{uid}" for ch, uid in view.channels.get(w.id or 0, [])),
                )
            ]
        )
    return "\ufeff" + buffer.getvalue()
