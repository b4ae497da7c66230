"""The registry: JSON API (``/api/v1/admin/...``) and the console page (``/admin/registry``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from bot.admin.errors import Missing, TooLarge
from bot.admin.registry import desk, import_job, imports
from bot.admin.web import (
    ApiUser,
    Dep,
    FormUser,
    PageUser,
    build_model,
    client_ip,
    container_of,
    redirect,
    render,
)
from bot.container import Container
from bot.jobqueue import queued_answer
from bot.street import street_registry
from handlers.accounts import Principal
from handlers.guards import require_some
from handlers.permissions import Action
from handlers.registry_rules import (
    WORKER_ROLES,
    BuildingIn,
    CommunityIn,
    GridIn,
    ImportFailed,
    WorkerIn,
    WorkerPatch,
    split_aliases,
)

router = APIRouter()


class Created(BaseModel):
    id: int


class ImportOut(BaseModel):
    created: int
    updated: int


def limit_body(request: Request) -> None:
    """Refuse an upload over the limit before reading it (413)."""
    limit = container_of(request).settings.admin.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + 16 * 1024:
        raise TooLarge(f"文件超过 {limit // 1024} KB 上限")


LimitedBody = Annotated[None, Depends(limit_body)]


async def read_limited(c: Container, file: UploadFile) -> bytes:
    limit = c.settings.admin.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"文件超过 {limit // 1024} KB 上限")
    return data


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/v1/admin/registry", tags=["registry"])
async def api_registry(
    c: Dep, p: ApiUser, community_id: Annotated[int | None, Query()] = None
) -> dict[str, Any]:
    """Communities, grids, buildings and workers (with their channels) the caller manages."""
    require_some(p.subject, Action.MANAGE_REGISTRY)
    return (await desk(c).load(p, community_id)).to_json()


@router.post(
    "/api/v1/admin/communities", status_code=201, response_model=Created, tags=["registry"]
)
async def api_add_community(request: Request, c: Dep, p: ApiUser, body: CommunityIn) -> Created:
    """Add a community (admins only)."""
    return Created(id=await desk(c).save_community(p, body, ip=client_ip(request)))


@router.put("/api/v1/admin/communities/{community_id}", response_model=Created, tags=["registry"])
async def api_put_community(
    request: Request, c: Dep, p: ApiUser, community_id: int, body: CommunityIn
) -> Created:
    return Created(id=await desk(c).save_community(p, body, community_id, ip=client_ip(request)))


@router.post("/api/v1/admin/grids", status_code=201, response_model=Created, tags=["registry"])
async def api_add_grid(request: Request, c: Dep, p: ApiUser, body: GridIn) -> Created:
    """Add a grid or micro-grid (``parent_id`` makes it a child in the tree)."""
    return Created(id=await desk(c).save_grid(p, body, ip=client_ip(request)))


@router.put("/api/v1/admin/grids/{grid_id}", response_model=Created, tags=["registry"])
async def api_put_grid(request: Request, c: Dep, p: ApiUser, grid_id: int, body: GridIn) -> Created:
    return Created(id=await desk(c).save_grid(p, body, grid_id, ip=client_ip(request)))


@router.post("/api/v1/admin/buildings", status_code=201, response_model=Created, tags=["registry"])
async def api_add_building(request: Request, c: Dep, p: ApiUser, body: BuildingIn) -> Created:
    """Add a building with its aliases (names residents use) and optional coordinates."""
    return Created(id=await desk(c).save_building(p, body, ip=client_ip(request)))


@router.put("/api/v1/admin/buildings/{building_id}", response_model=Created, tags=["registry"])
async def api_put_building(
    request: Request, c: Dep, p: ApiUser, building_id: int, body: BuildingIn
) -> Created:
    return Created(id=await desk(c).save_building(p, body, building_id, ip=client_ip(request)))


@router.post("/api/v1/admin/workers", status_code=201, response_model=Created, tags=["registry"])
async def api_add_worker(request: Request, c: Dep, p: ApiUser, body: WorkerIn) -> Created:
    """Add a grid worker, grid leader or community staff member with their channels."""
    return Created(id=await desk(c).save_worker(p, body, ip=client_ip(request)))


@router.put("/api/v1/admin/workers/{worker_id}", response_model=Created, tags=["registry"])
async def api_put_worker(
    request: Request, c: Dep, p: ApiUser, worker_id: int, body: WorkerIn
) -> Created:
    return Created(id=await desk(c).save_worker(p, body, worker_id, ip=client_ip(request)))


@router.patch("/api/v1/admin/workers/{worker_id}", status_code=204, tags=["registry"])
async def api_patch_worker(
    request: Request, c: Dep, p: ApiUser, worker_id: int, body: WorkerPatch
) -> Response:
    """Set on-duty or active."""
    await desk(c).patch_worker(p, worker_id, body, ip=client_ip(request))
    return Response(status_code=204)


async def _delete(request: Request, c: Container, p: Principal, kind: str, row_id: int) -> Response:
    await desk(c).delete(p, kind, row_id, ip=client_ip(request))
    return Response(status_code=204)


@router.delete("/api/v1/admin/grids/{grid_id}", status_code=204, tags=["registry"])
async def api_delete_grid(request: Request, c: Dep, p: ApiUser, grid_id: int) -> Response:
    """Delete a grid nothing refers to (no buildings, workers, child grids or tickets)."""
    return await _delete(request, c, p, "grid", grid_id)


@router.delete("/api/v1/admin/buildings/{building_id}", status_code=204, tags=["registry"])
async def api_delete_building(request: Request, c: Dep, p: ApiUser, building_id: int) -> Response:
    """Delete a building no ticket or resident refers to (409 otherwise)."""
    return await _delete(request, c, p, "building", building_id)


@router.delete("/api/v1/admin/workers/{worker_id}", status_code=204, tags=["registry"])
async def api_delete_worker(request: Request, c: Dep, p: ApiUser, worker_id: int) -> Response:
    """Delete a worker who never had a ticket (409 otherwise: deactivate them instead)."""
    return await _delete(request, c, p, "worker", worker_id)


@router.post("/api/v1/admin/imports/{kind}", response_model=ImportOut, tags=["registry"])
async def api_import(
    _: LimitedBody,
    request: Request,
    c: Dep,
    p: ApiUser,
    kind: str,
    file: Annotated[UploadFile, File(description="CSV, UTF-8 or GB18030")],
    community_id: Annotated[int | None, Form()] = None,
) -> ImportOut | JSONResponse:
    """Import buildings, workers or streets (``kind``) from CSV. All or nothing: on any bad row, 422
    with ``detail`` = [{"row": line, "message": ...}] and nothing written. The import is a
    job of the queue: not finished within ``MINHU_JOBS__WAIT_SECONDS``, 202 with its id."""
    data = await read_limited(c, file)
    if kind not in ("buildings", "workers", "streets"):  # streets: handlers/street_registry.py
        raise Missing("未知类型")
    job_id, result = await import_job(
        c, p, kind, data, community_id=community_id, ip=client_ip(request)
    )
    if result is None:
        return JSONResponse(queued_answer(job_id), status_code=202)
    return ImportOut(created=result.created, updated=result.updated)


@router.get("/api/v1/admin/exports/{kind}.csv", tags=["registry"], response_class=Response)
async def api_export(
    c: Dep, p: ApiUser, kind: str, community_id: Annotated[int | None, Query()] = None
) -> Response:
    """Buildings, workers or streets as CSV (the import format)."""
    return await _export(c, p, kind, community_id)


async def _export(c: Container, p: Principal, kind: str, community_id: int | None) -> Response:
    require_some(p.subject, Action.MANAGE_REGISTRY)
    if kind == "buildings":
        return _csv(await imports(c).export_buildings(p, community_id), "buildings.csv")
    if kind == "workers":
        return _csv(await imports(c).export_workers(p, community_id), "workers.csv")
    if kind == "streets":
        return _csv(await street_registry(c).export_csv(p), "streets.csv")
    raise Missing("未知类型")


# --- console ----------------------------------------------------------------------------------


async def _page(
    request: Request,
    c: Container,
    p: Principal,
    community_id: int | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    require_some(p.subject, Action.MANAGE_REGISTRY)
    everything = await desk(c).load(p)
    if not everything.communities:
        current = None
    elif community_id is None:
        current = everything.communities[0]
    else:
        current = next((x for x in everything.communities if x.id == community_id), None)
        if current is None:
            raise Missing("没有这个社区")
    view = await desk(c).load(p, current.id) if current else everything
    return render(
        request,
        "registry.html",
        p,
        status=status,
        communities=everything.communities,
        current=current,
        view=view,
        tree=view.tree(current.id) if current and current.id else [],
        grids={g.id: g for g in view.grids},
        roles=list(WORKER_ROLES.items()),
        **{"import_errors": None, **extra},
    )


@router.get("/admin/registry", include_in_schema=False)
async def registry_page(
    request: Request, c: Dep, p: PageUser, community_id: Annotated[int | None, Query()] = None
) -> HTMLResponse:
    return await _page(request, c, p, community_id)


def _back(community_id: int | str | None) -> str:
    return f"/admin/registry?community_id={community_id}" if community_id else "/admin/registry"


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.post("/admin/registry/communities", include_in_schema=False)
async def form_community(
    request: Request,
    c: Dep,
    p: FormUser,
    name: Annotated[str, Form(max_length=100)],
    street: Annotated[str, Form(max_length=100)] = "",
    hotline: Annotated[str, Form(max_length=40)] = "",
    community_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    body = build_model(CommunityIn, name=name, street=street, hotline=hotline)
    saved = await desk(c).save_community(p, body, _int(community_id), ip=client_ip(request))
    return redirect(_back(saved), f"已保存社区“{body.name}”")


@router.post("/admin/registry/grids", include_in_schema=False)
async def form_grid(
    request: Request,
    c: Dep,
    p: FormUser,
    community_id: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=100)],
    parent_id: Annotated[str, Form(max_length=12)] = "",
    grid_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    parent = _int(parent_id)
    body = build_model(
        GridIn,
        community_id=community_id,
        name=name,
        parent_id=parent,
        level="micro_grid" if parent else "grid",
    )
    await desk(c).save_grid(p, body, _int(grid_id), ip=client_ip(request))
    return redirect(_back(community_id), f"已保存网格“{body.name}”")


@router.post("/admin/registry/buildings", include_in_schema=False)
async def form_building(
    request: Request,
    c: Dep,
    p: FormUser,
    community_id: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=100)],
    grid_id: Annotated[str, Form(max_length=12)] = "",
    aliases: Annotated[str, Form(max_length=2000)] = "",
    latitude: Annotated[str, Form(max_length=30)] = "",
    longitude: Annotated[str, Form(max_length=30)] = "",
    building_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    body = build_model(
        BuildingIn,
        community_id=community_id,
        name=name,
        grid_id=_int(grid_id),
        aliases=aliases,
        latitude=latitude.strip() or None,
        longitude=longitude.strip() or None,
    )
    await desk(c).save_building(p, body, _int(building_id), ip=client_ip(request))
    return redirect(_back(community_id), f"已保存楼栋“{body.name}”")


@router.post("/admin/registry/workers", include_in_schema=False)
async def form_worker(
    request: Request,
    c: Dep,
    p: FormUser,
    community_id: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=50)],
    role: Annotated[str, Form(max_length=20)] = "grid_worker",
    grid_id: Annotated[str, Form(max_length=12)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    channels: Annotated[str, Form(max_length=1000)] = "",
    on_duty: Annotated[str, Form(max_length=5)] = "",
    worker_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    refs = []
    for part in split_aliases(channels):
        channel, _, user_id = part.partition(":")
        refs.append({"channel": channel.strip(), "user_id": user_id.strip()})
    body = build_model(
        WorkerIn,
        community_id=community_id,
        name=name,
        role=role,
        grid_id=_int(grid_id),
        phone=phone,
        on_duty=bool(on_duty),
        channels=refs,
    )
    await desk(c).save_worker(p, body, _int(worker_id), ip=client_ip(request))
    return redirect(_back(community_id), f"已保存人员“{body.name}”")


@router.post("/admin/registry/workers/{worker_id}/toggle", include_in_schema=False)
async def form_toggle(
    request: Request,
    c: Dep,
    p: FormUser,
    worker_id: int,
    field: Annotated[str, Form(max_length=10)],
    value: Annotated[str, Form(max_length=5)],
    community_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    flag = value == "1"
    patch = WorkerPatch(on_duty=flag) if field == "on_duty" else WorkerPatch(active=flag)
    await desk(c).patch_worker(p, worker_id, patch, ip=client_ip(request))
    return redirect(_back(community_id), "已保存")


@router.post("/admin/registry/{kind}/{row_id}/delete", include_in_schema=False)
async def form_delete(
    request: Request,
    c: Dep,
    p: FormUser,
    kind: str,
    row_id: int,
    community_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    if kind not in ("grid", "building", "worker"):
        raise Missing("未知类型")
    await desk(c).delete(p, kind, row_id, ip=client_ip(request))
    return redirect(_back(community_id), "已删除")


@router.post("/admin/registry/import/{kind}", include_in_schema=False)
async def form_import(
    _: LimitedBody,
    request: Request,
    c: Dep,
    p: FormUser,
    kind: str,
    file: Annotated[UploadFile, File()],
    community_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    cid = _int(community_id)
    data = await read_limited(c, file)
    if kind not in ("buildings", "workers"):
        raise Missing("未知类型")
    try:
        job_id, result = await import_job(c, p, kind, data, community_id=cid, ip=client_ip(request))
    except ImportFailed as e:
        # show every bad row on the page itself (a flash message would be too small)
        return await _page(
            request, c, p, cid, status=422, import_errors={"message": e.message, "rows": e.detail}
        )
    if result is None:
        return redirect(_back(cid), queued_answer(job_id)["message"])
    label = "楼栋" if kind == "buildings" else "人员"
    return redirect(_back(cid), f"导入{label}：新增 {result.created}，更新 {result.updated}")


@router.get("/admin/registry/export/{kind}.csv", include_in_schema=False)
async def form_export(
    c: Dep, p: PageUser, kind: str, community_id: Annotated[int | None, Query()] = None
) -> Response:
    return await _export(c, p, kind, community_id)
