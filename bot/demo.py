"""The demo community loaded on first run: one 社区, 3 grids (one split into micro-grids),
12 buildings with the names residents really use, 4 grid workers, a grid leader and staff."""

from __future__ import annotations

from typing import Any

from nlu.numbers import to_chinese
from storage.interfaces import Store
from storage.models import (
    Building,
    BuildingHelper,
    Community,
    Department,
    DepartmentContact,
    Grid,
    GridWorker,
    Street,
)

COMMUNITY = "阳光花园社区"


def building_aliases(n: int) -> list[str]:
    cn = to_chinese(n)
    return [f"{n}号楼", f"{n}栋", f"{cn}幢", f"{cn}号楼", f"{cn}栋"]


# name, role, grid name (None: community-wide), web user id, phone, on duty
WORKERS: tuple[tuple[str, str, str | None, str, str, bool], ...] = (
    ("张伟", "grid_worker", "第一网格", "worker-zhang", "13800000001", True),
    ("李娜", "grid_worker", "第二网格", "worker-li", "13800000002", True),
    ("王芳", "grid_worker", "第三网格", "worker-wang", "13800000003", True),
    ("赵强", "grid_worker", "第三网格", "worker-zhao", "13800000004", False),
    ("陈静", "grid_leader", None, "leader-chen", "13800000005", True),
    ("刘洋", "community_staff", None, "staff-liu", "13800000006", True),
)

# departments/parties a ticket can be handed to: name, kind, aliases, web user id, phone,
# street-wide (True) or the community's own
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...], str, str, bool], ...] = (
    ("城管中队", "city_management", ("城管", "西溪城管"), "dept-chengguan", "0571-88881001", True),
    ("交警中队", "traffic", ("交管", "交警"), "dept-jiaoguan", "0571-88881002", True),
    ("物业服务中心", "property", ("物业", "阳光物业"), "dept-wuye", "0571-88881003", False),
    ("业委会", "owners_committee", ("业主委员会",), "dept-yeweihui", "", False),
    ("施工方", "contractor", ("施工单位", "施工队"), "dept-shigong", "", False),
)

# building heads and volunteers (issue 14): name, role, buildings, unit, phone, web user id
# (their web chat is linked, so asks and pass-on notes reach them in the demo)
HELPERS: tuple[tuple[str, str, tuple[int, ...], str, str, str], ...] = (
    ("张桂兰", "building_head", (6,), "", "13900000016", "head-zhang"),
    ("周建国", "party_volunteer", (5, 6), "", "13900000056", "volunteer-zhou"),
)

# grid name → building numbers; 第一网格 is split into two micro-grids
GRID_BUILDINGS: dict[str, tuple[int, ...]] = {
    "第一网格": (),
    "第一网格A微网格": (1, 2),
    "第一网格B微网格": (3, 4),
    "第二网格": (5, 6, 7, 8),
    "第三网格": (9, 10, 11, 12),
}


async def load_demo(store: Store, *, reset: bool = False) -> bool:
    """Load the demo community. Returns False (and changes nothing) if data exists already."""
    async with store.unit() as uow:
        if reset:
            await uow.registry.delete_all()
        elif await uow.registry.communities():
            return False
        street = await uow.streets.by_name("西溪街道") or await uow.streets.save(
            Street(name="西溪街道", district="西湖区", hotline="0571-88880001")
        )
        community = await uow.registry.add(
            Community(
                name=COMMUNITY, street=street.name, street_id=street.id, hotline="0571-88880000"
            )
        )
        grids: dict[str, Grid] = {}
        for name in ("第一网格", "第二网格", "第三网格"):
            grids[name] = await uow.registry.add(Grid(community_id=community.id, name=name))
        for name in ("第一网格A微网格", "第一网格B微网格"):
            grids[name] = await uow.registry.add(
                Grid(
                    community_id=community.id,
                    name=name,
                    parent_id=grids["第一网格"].id,
                    level="micro_grid",
                )
            )
        for grid_name, numbers in GRID_BUILDINGS.items():
            for n in numbers:
                await uow.registry.add(
                    Building(
                        community_id=community.id,
                        grid_id=grids[grid_name].id,
                        name=f"{n}幢",
                        aliases=building_aliases(n),
                        latitude=30.2741 + 0.0006 * ((n - 1) // 4),
                        longitude=120.1551 + 0.0008 * ((n - 1) % 4),
                    )
                )
        for name, role, worker_grid, web_id, phone, on_duty in WORKERS:
            worker = await uow.registry.add(
                GridWorker(
                    name=name,
                    role=role,
                    community_id=community.id,
                    grid_id=grids[worker_grid].id if worker_grid else None,
                    phone=phone,
                    on_duty=on_duty,
                )
            )
            await uow.registry.bind_worker_identity(worker.id, "web", web_id)
        for name, kind, aliases, web_id, phone, street_wide in DEPARTMENTS:
            department = await uow.departments.add(
                Department(
                    community_id=None if street_wide else community.id,
                    name=name,
                    kind=kind,
                    aliases=list(aliases),
                    phone=phone,
                )
            )
            await uow.departments.add_contact(
                DepartmentContact(
                    department_id=department.id or 0, channel="web", user_id=web_id, name="值班"
                )
            )
        buildings = {b.name: b.id or 0 for b in await uow.registry.buildings(community.id)}
        for name, role, numbers, unit, phone, web_id in HELPERS:
            resident, _ = await uow.registry.ensure_resident("web", web_id)
            await uow.people.add_helper(
                BuildingHelper(
                    community_id=community.id or 0,
                    name=name,
                    role=role,
                    unit=unit,
                    phone=phone,
                    resident_id=resident.id,
                ),
                [buildings[f"{n}幢"] for n in numbers],
            )
    return True


async def demo_registry(store: Store) -> dict[str, Any]:
    """The registry as JSON: grids, buildings with aliases, workers with their web user ids."""
    async with store.unit() as uow:
        communities = await uow.registry.communities()
        grids = await uow.registry.grids()
        buildings = await uow.registry.buildings()
        workers = await uow.registry.workers()
        departments = await uow.departments.for_community(None, active_only=False)
        out_departments = []
        for d in departments:
            contacts = await uow.departments.contacts(d.id or 0)
            out_departments.append(
                {
                    "id": d.id,
                    "name": d.name,
                    "kind": d.kind,
                    "aliases": list(d.aliases),
                    "web_user_id": next((c.user_id for c in contacts if c.channel == "web"), None),
                }
            )
        grid_names = {g.id: g.name for g in grids}
        out_workers = []
        for w in workers:
            idents = await uow.registry.worker_identities(w.id or 0)
            out_workers.append(
                {
                    "id": w.id,
                    "name": w.name,
                    "role": w.role,
                    "grid": grid_names.get(w.grid_id) if w.grid_id else None,
                    "on_duty": w.on_duty,
                    "web_user_id": next((i.user_id for i in idents if i.channel == "web"), None),
                    "channels": [{"channel": i.channel, "user_id": i.user_id} for i in idents],
                }
            )
    return {
        "communities": [
            {"id": c.id, "name": c.name, "street": c.street, "hotline": c.hotline}
            for c in communities
        ],
        "grids": [
            {
                "id": g.id,
                "name": g.name,
                "level": g.level,
                "parent": grid_names.get(g.parent_id) if g.parent_id else None,
            }
            for g in grids
        ],
        "buildings": [
            {
                "id": b.id,
                "name": b.name,
                "aliases": list(b.aliases),
                "grid": grid_names.get(b.grid_id) if b.grid_id else None,
                "latitude": b.latitude,
                "longitude": b.longitude,
            }
            for b in buildings
        ],
        "workers": out_workers,
        "departments": out_departments,
    }
