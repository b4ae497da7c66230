"""The registry of building heads, unit heads and party-member volunteers (I/O): list, add,
retire, CSV import and one-time link codes for their own chat. Who may: ``manage_registry``
(community staff in their community, admins). Their work on tickets and with residents is
``handlers/people_service.py``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.address import BuildingRef, resolve_building
from handlers.errors import InvalidInput, NotFound
from handlers.guards import require
from handlers.people import (
    HelperRole,
    code_hash,
    code_text,
    new_link_code,
    parse_helpers_csv,
    role_label,
    role_of,
)
from handlers.permissions import Action, CommunityTarget, Subject, communities_for, may
from handlers.ports import Clock
from nlu.pii import phone_digits
from storage.interfaces import Store, UnitOfWork
from storage.models import Building, BuildingHelper, LinkCode

LINK_DAYS = 14


def helper_json(helper: BuildingHelper, buildings: Sequence[Building]) -> dict[str, Any]:
    """A helper as staff see it (the console and the API show the full phone)."""
    return {
        "id": helper.id,
        "name": helper.name,
        "role": helper.role,
        "role_label": role_label(helper.role),
        "community_id": helper.community_id,
        "unit": helper.unit,
        "phone": helper.phone,
        "linked": helper.resident_id is not None,
        "buildings": [{"id": b.id, "name": b.name} for b in buildings],
    }


class HelperRegistry:
    """Building heads and volunteers as staff manage them (console and API).

    Args:
        store: units of work.
        clock: the time source.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def listed(
        self, subject: Subject, *, building_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The helpers the subject may see (staff: their community), with their buildings."""
        ids = communities_for(subject, Action.VIEW)
        async with self.store.unit() as uow:
            helpers = await uow.people.helpers(
                community_ids=list(ids) if ids is not None else None, building_id=building_id
            )
            return await self._json(uow, helpers)

    async def _json(
        self, uow: UnitOfWork, helpers: Sequence[BuildingHelper]
    ) -> list[dict[str, Any]]:
        places = await uow.people.buildings_of([h.id or 0 for h in helpers])
        names = {b.id: b for b in await uow.registry.buildings()}
        return [
            helper_json(h, [names[i] for i in places.get(h.id or 0, []) if i in names])
            for h in helpers
        ]

    async def register(
        self,
        subject: Subject,
        *,
        name: str,
        role: str,
        building_ids: Sequence[int],
        unit: str = "",
        phone: str = "",
    ) -> dict[str, Any]:
        """Add a helper looking after one or more buildings of one community.

        Raises:
            InvalidInput: empty name, unknown role or building, buildings of two communities.
            NotAllowed: not the subject's community (``manage_registry``).
        """
        name = name.strip()
        if not name or len(name) > 50:
            raise InvalidInput("姓名不能为空，且不超过50字")
        try:
            kind = role_of(role)
        except ValueError as e:
            raise InvalidInput(str(e)) from e
        if kind == HelperRole.UNIT_HEAD and not unit.strip():
            raise InvalidInput("单元长需要填写单元（如 1单元）")
        if not building_ids:
            raise InvalidInput("请至少选择一幢楼")
        async with self.store.unit() as uow:
            buildings = []
            for building_id in building_ids:
                building = await uow.registry.building(building_id)
                if building is None:
                    raise InvalidInput(f"没有编号为 {building_id} 的楼栋")
                buildings.append(building)
            communities = {b.community_id for b in buildings}
            if len(communities) != 1:
                raise InvalidInput("一位楼栋长或志愿者只能负责同一个社区的楼栋")
            community_id = communities.pop()
            require(subject, Action.MANAGE_REGISTRY, CommunityTarget(community_id))
            helper = await uow.people.add_helper(
                BuildingHelper(
                    community_id=community_id,
                    name=name,
                    role=kind.value,
                    unit=unit.strip()[:20],
                    phone=phone_digits(phone) if phone else "",
                    created_at=self.clock.now(),
                ),
                [b.id or 0 for b in buildings],
            )
            return helper_json(helper, buildings)

    async def remove(self, subject: Subject, helper_id: int) -> None:
        """Retire a helper (kept for the tickets they answered on)."""
        async with self.store.unit() as uow:
            helper = await uow.people.helper(helper_id)
            if helper is None or not helper.active:
                raise NotFound(f"没有编号为 {helper_id} 的楼栋长或志愿者")
            require(subject, Action.MANAGE_REGISTRY, CommunityTarget(helper.community_id))
            helper.active = False
            await uow.people.save_helper(helper)

    async def import_csv(self, subject: Subject, text: str) -> int:
        """Add every helper of the CSV, or none (errors per line).

        Raises:
            InvalidInput: the errors, one line each.
        """
        async with self.store.unit() as uow:
            return await self.import_in(uow, subject, text)

    async def import_in(self, uow: UnitOfWork, subject: Subject, text: str) -> int:
        """``import_csv`` in the caller's transaction (the import job marks itself done in
        the same one, so a retried job never adds the helpers twice)."""
        parsed = parse_helpers_csv(text)
        errors = list(parsed.errors)
        communities = {c.name: c for c in await uow.registry.communities()}
        plans: list[tuple[BuildingHelper, list[int]]] = []
        for row in parsed.rows:
            community = communities.get(row.community)
            if community is None:
                errors.append(f"第{row.line}行：没有名为“{row.community}”的社区")
                continue
            if not _may_manage(subject, community.id):
                errors.append(f"第{row.line}行：您无权管理“{row.community}”")
                continue
            refs = [
                BuildingRef(b.id or 0, b.name, tuple(b.aliases or ()), b.community_id, "")
                for b in await uow.registry.buildings(community.id)
            ]
            ids: list[int] = []
            for name in row.buildings:
                found = resolve_building(name, refs, community_id=community.id)
                if not found:
                    errors.append(f"第{row.line}行：{row.community}没有“{name}”")
                    continue
                ids.append(found[0].id)
            plans.append(
                (
                    BuildingHelper(
                        community_id=community.id or 0,
                        name=row.name,
                        role=row.role.value,
                        unit=row.unit,
                        phone=row.phone,
                        created_at=self.clock.now(),
                    ),
                    ids,
                )
            )
        if errors:
            raise InvalidInput("\n".join(errors))
        if not plans:
            raise InvalidInput("文件里没有楼栋长或志愿者")
        for helper, ids in plans:
            await uow.people.add_helper(helper, ids)
        return len(plans)

    async def link_code(self, subject: Subject, helper_id: int) -> tuple[str, datetime]:
        """A one-time code the helper sends in their chat ("绑定 1234 5678") to link it."""
        now = self.clock.now()
        code = new_link_code()
        expires = now + timedelta(days=LINK_DAYS)
        async with self.store.unit() as uow:
            helper = await uow.people.helper(helper_id)
            if helper is None or not helper.active:
                raise NotFound(f"没有编号为 {helper_id} 的楼栋长或志愿者")
            require(subject, Action.MANAGE_REGISTRY, CommunityTarget(helper.community_id))
            await uow.people.add_code(
                LinkCode(
                    code_hash=code_hash(code),
                    kind="helper",
                    helper_id=helper.id,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return code_text(code), expires


def _may_manage(subject: Subject, community_id: int | None) -> bool:
    return may(subject, Action.MANAGE_REGISTRY, CommunityTarget(community_id), {})
