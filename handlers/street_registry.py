"""Streets in the registry (I/O): streets (街道) above communities, their staff, and the
streets CSV — kept apart from ``handlers.registry_service`` to keep the street level in one
place.

A community belongs to at most one street (``Community.street_id``; ``Community.street``
keeps its name as text for notices). Streets and street staff are created by admins: a
street spans communities, so no community's staff may change it.

The CSV (import and export, one row per street)::

    街道,区,热线,社区
    西溪街道,西湖区,0571-88880001,西溪社区、文新社区
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.guards import require
from handlers.permissions import Action
from handlers.ports import Clock
from handlers.registry_rules import (
    ImportFailed,
    ImportResult,
    RowError,
    csv_cell,
    csv_rows,
    decode_csv,
)
from storage.interfaces import Store, UnitOfWork
from storage.models import Community, GridWorker, Street

STREET_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("街道", "street", "name"),
    "district": ("区", "district"),
    "hotline": ("热线", "hotline"),
    "communities": ("社区", "communities"),
}
_SPLIT = re.compile(r"[、，,;；/\s]+")


class StreetIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    district: str = Field(default="", max_length=100)
    hotline: str = Field(default="", max_length=40)


class StreetStaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(default="", max_length=30)
    community_id: int = Field(description="the community of the street where their office is")


async def assign_street(uow: UnitOfWork, community: Community, name: str) -> None:
    """Put a community under the street of that name (created when new); "" takes it out."""
    name = name.strip()
    if not name:
        community.street, community.street_id = "", None
        return
    street = await uow.streets.by_name(name)
    if street is None:
        street = await uow.streets.save(Street(name=name))
    community.street, community.street_id = street.name, street.id


class StreetRegistry:
    """Streets, their communities and staff; the streets CSV.

    Args:
        store: units of work over the database.
        clock: the time source.
        on_change: called after a commit (the routing snapshot is reloaded).
    """

    def __init__(self, store: Store, clock: Clock, on_change: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    async def listing(self, communities: tuple[int, ...] | None) -> list[dict[str, Any]]:
        """Streets with their communities and staff; ``communities`` None: every street,
        else only streets with one of those communities."""
        async with self.store.unit() as uow:
            workers = await uow.registry.workers()
            out = []
            for street in await uow.streets.all():
                members = await uow.streets.communities(street.id or 0)
                if communities is not None and not any(c.id in communities for c in members):
                    continue
                out.append(
                    {
                        "id": street.id,
                        "name": street.name,
                        "district": street.district,
                        "hotline": street.hotline,
                        "communities": [{"id": c.id, "name": c.name} for c in members],
                        "staff": [
                            {"id": w.id, "name": w.name, "on_duty": w.on_duty}
                            for w in workers
                            if w.street_id == street.id and w.role == "street_staff" and w.active
                        ],
                    }
                )
            return out

    async def save(
        self, p: Principal, body: StreetIn, street_id: int | None = None, ip: str = ""
    ) -> int:
        """Create or rename a street (admins)."""
        require(p.subject, Action.CREATE_COMMUNITY)
        async with self.store.unit() as uow:
            other = await uow.streets.by_name(body.name.strip())
            if other is not None and other.id != street_id:
                raise Conflict(f"街道“{body.name}”已存在")
            if street_id is None:
                row = Street(name=body.name.strip(), district=body.district, hotline=body.hotline)
            else:
                found = await uow.streets.get(street_id)
                if found is None:
                    raise NotFound("没有这个街道")
                row = found
                row.name, row.district, row.hotline = body.name.strip(), body.district, body.hotline
            await uow.streets.save(row)
            for community in await uow.streets.communities(row.id or 0):
                community.street = row.name  # the name notices are addressed by
                await uow.registry.save(community)
            await audit_service.record(
                uow,
                p,
                "registry.street." + ("create" if street_id is None else "update"),
                now=self.clock.now(),
                target_type="street",
                target_id=row.id or "",
                summary=row.name,
                after=body.model_dump(),
                ip=ip,
            )
        self.on_change()
        return row.id or 0

    async def add_staff(
        self, p: Principal, street_id: int, body: StreetStaffIn, ip: str = ""
    ) -> int:
        """Register a street staff member (admins); bind their chat with ``minhu … bind``."""
        require(p.subject, Action.CREATE_COMMUNITY)
        async with self.store.unit() as uow:
            street = await uow.streets.get(street_id)
            if street is None:
                raise NotFound("没有这个街道")
            community = await uow.registry.community(body.community_id)
            if community is None or community.street_id != street_id:
                raise InvalidInput("办公所在社区必须属于该街道")
            worker = GridWorker(
                name=body.name.strip(),
                role="street_staff",
                community_id=body.community_id,
                street_id=street_id,
                phone=body.phone.strip(),
            )
            await uow.registry.save(worker)
            await audit_service.record(
                uow,
                p,
                "registry.street_staff.create",
                now=self.clock.now(),
                target_type="worker",
                target_id=worker.id or "",
                summary=f"{street.name} {worker.name}",
                ip=ip,
            )
        self.on_change()
        return worker.id or 0

    async def export_csv(self, p: Principal) -> str:
        """Every street with its communities, in the import format (admins)."""
        require(p.subject, Action.CREATE_COMMUNITY)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([names[0] for names in STREET_COLUMNS.values()])
        for row in await self.listing(None):
            writer.writerow(
                [
                    csv_cell(row["name"]),
                    csv_cell(row["district"]),
                    csv_cell(row["hotline"]),
                    csv_cell("、".join(c["name"] for c in row["communities"])),
                ]
            )
        return "\ufeff" + out.getvalue()

    async def import_csv(self, p: Principal, data: bytes, ip: str = "") -> ImportResult:
        """Create or update streets and put the listed communities under them; all or
        nothing, one error per bad row."""
        require(p.subject, Action.CREATE_COMMUNITY)
        rows = csv_rows(decode_csv(data), STREET_COLUMNS)
        result = ImportResult()
        errors: list[RowError] = []
        async with self.store.unit() as uow:
            communities = {c.name: c for c in await uow.registry.communities()}
            claimed: dict[str, int] = {}
            for line, row in rows:
                name = row.get("name", "").strip()
                if not name or len(name) > 100:
                    errors.append(RowError(line, "街道名称不能为空，且不超过100字"))
                    continue
                members = [n for n in _SPLIT.split(row.get("communities", "")) if n]
                for member in members:
                    if member not in communities:
                        errors.append(RowError(line, f"没有社区“{member}”"))
                    elif member in claimed and claimed[member] != line:
                        errors.append(
                            RowError(line, f"社区“{member}”在第{claimed[member]}行已归属其他街道")
                        )
                    else:
                        claimed[member] = line
                if errors:
                    continue
                street = await uow.streets.by_name(name)
                if street is None:
                    street = Street(name=name)
                    result.created += 1
                else:
                    result.updated += 1
                street.district = row.get("district", "").strip()[:100]
                street.hotline = row.get("hotline", "").strip()[:40]
                await uow.streets.save(street)
                for member in members:
                    community = communities[member]
                    community.street, community.street_id = street.name, street.id
                    await uow.registry.save(community)
            if errors:
                raise ImportFailed(
                    f"有 {len(errors)} 行有误，未导入任何数据",
                    detail=[{"row": e.row, "message": e.message} for e in errors],
                )
            await audit_service.record(
                uow,
                p,
                "registry.street.import",
                now=self.clock.now(),
                target_type="street",
                summary=f"导入街道：新建{result.created}，更新{result.updated}",
                ip=ip,
            )
        self.on_change()
        return result
