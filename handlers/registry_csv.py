"""Registry CSV (I/O): importing buildings and workers all or nothing, with an error for each
bad row, and exporting them in the same format (formulas defused).

The format and the row rules are ``handlers.registry_rules``; the changes go through the
same checks as the console's forms (``handlers.registry_service``), permission included.
"""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import NotFound
from handlers.guards import require_some
from handlers.permissions import Action, communities_for
from handlers.ports import Clock
from handlers.registry_rules import (
    BUILDING_COLUMNS,
    ROLE_BY_LABEL,
    WORKER_COLUMNS,
    WORKER_ROLES,
    BuildingIn,
    ChannelRef,
    ImportFailed,
    ImportResult,
    RowError,
    WorkerIn,
    ambiguities,
    csv_cell,
    csv_rows,
    decode_csv,
    flag,
    line_of,
    parse_channels,
    validation_text,
)
from handlers.registry_service import RegistryDesk, binding_refusal
from storage.interfaces import Store, UnitOfWork
from storage.models import Building, Community, Grid, GridWorker


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
            raise NotFound("没有这个社区")
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


def _refuse_if_any(errors: list[RowError]) -> None:
    """All or nothing: any bad row refuses the whole file, every bad row said."""
    if errors:
        raise ImportFailed(
            f"有 {len(errors)} 行有误，未导入任何数据",
            detail=[{"row": e.row, "message": e.message} for e in sorted(errors, key=line_of)],
        )


class RegistryImports:
    """CSV in and out of the registry on behalf of a console account.

    Args:
        store: units of work over the database.
        clock: the time source.
        registry: the registry desk (what the account may see; ``on_change``).
    """

    def __init__(self, store: Store, clock: Clock, registry: RegistryDesk) -> None:
        self.store = store
        self.clock = clock
        self.registry = registry

    async def import_buildings(
        self, p: Principal, data: bytes, *, community_id: int | None = None, ip: str = ""
    ) -> ImportResult:
        """Create or update buildings (keyed by community + name) from CSV; all or nothing."""

        require_some(p.subject, Action.MANAGE_REGISTRY)
        rows = csv_rows(decode_csv(data), BUILDING_COLUMNS)
        result = ImportResult()
        async with self.store.unit() as uow:
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
                    errors.append(RowError(line, validation_text(e)))
                    continue
                key = (cid, body.name)
                if key in seen:
                    errors.append(RowError(line, f"楼栋“{body.name}”在第 {seen[key]} 行已出现"))
                    continue
                seen[key] = line
                existing = next(
                    (b for b in buildings_by_community[cid] if b.name == body.name), None
                )
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
                errors.extend(ambiguities(final))
            _refuse_if_any(errors)
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
            await self._audit(uow, p, "building", "楼栋", result, ip)
        self.registry.on_change()
        return result

    async def import_workers(
        self, p: Principal, data: bytes, *, community_id: int | None = None, ip: str = ""
    ) -> ImportResult:
        """Create or update workers (keyed by community + name) from CSV; all or nothing."""

        require_some(p.subject, Action.MANAGE_REGISTRY)
        rows = csv_rows(decode_csv(data), WORKER_COLUMNS)
        result = ImportResult()
        async with self.store.unit() as uow:
            communities, default = await _import_context(uow, p, community_id)
            errors: list[RowError] = []
            plans: list[tuple[WorkerIn, GridWorker | None]] = []
            grids_by_community: dict[int, dict[str, Grid]] = {}
            workers_by_community: dict[int, list[GridWorker]] = {}
            seen: dict[tuple[int, str], int] = {}
            claimed: dict[tuple[str, str], int] = {}
            for line, row in rows:
                community = _community_of(row, line, communities, default, errors)
                if community is None or community.id is None:
                    continue
                cid = community.id
                if cid not in grids_by_community:
                    grids_by_community[cid] = {g.name: g for g in await uow.registry.grids(cid)}
                    workers_by_community[cid] = list(await uow.registry.workers(cid))
                grids = grids_by_community[cid]
                grid_name = row.get("grid", "")
                if grid_name and grid_name not in grids:
                    errors.append(RowError(line, f"社区“{community.name}”没有网格“{grid_name}”"))
                    continue
                role_text = row.get("role", "") or "grid_worker"
                role = ROLE_BY_LABEL.get(role_text, role_text)
                before = len(errors)
                on_duty = flag(row.get("on_duty", ""), line, "在岗", errors)
                active = flag(row.get("active", ""), line, "启用", errors)
                channels = parse_channels(row.get("channels", ""), line, errors)
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
                    errors.append(RowError(line, validation_text(e)))
                    continue
                key = (cid, body.name)
                if key in seen:
                    errors.append(RowError(line, f"“{body.name}”在第 {seen[key]} 行已出现"))
                    continue
                seen[key] = line
                same = [w for w in workers_by_community[cid] if w.name == body.name]
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
                    refusal = await binding_refusal(uow, p, ref.channel, ref.user_id, cid)
                    if refusal:
                        errors.append(RowError(line, refusal))
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
            _refuse_if_any(errors)
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
            await self._audit(uow, p, "worker", "人员", result, ip)
        self.registry.on_change()
        return result

    async def _audit(
        self, uow: UnitOfWork, p: Principal, target: str, label: str, result: ImportResult, ip: str
    ) -> None:
        await audit_service.record(
            uow,
            p,
            f"registry.{target}.import",
            now=self.clock.now(),
            target_type=target,
            summary=f"导入{label}：新增 {result.created}，更新 {result.updated}",
            after={"created": result.created, "updated": result.updated},
            ip=ip,
        )

    async def export_buildings(self, p: Principal, community_id: int | None = None) -> str:
        view = await self.registry.load(p, community_id)
        names = {x.id: x.name for x in view.communities}
        grids = {g.id: g.name for g in view.grids}
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([names[0] for names in BUILDING_COLUMNS.values()])
        for b in view.buildings:
            writer.writerow(
                [
                    csv_cell(x)
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

    async def export_workers(self, p: Principal, community_id: int | None = None) -> str:
        view = await self.registry.load(p, community_id)
        names = {x.id: x.name for x in view.communities}
        grids = {g.id: g.name for g in view.grids}
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([labels[0] for labels in WORKER_COLUMNS.values()])
        for w in view.workers:
            writer.writerow(
                [
                    csv_cell(x)
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
