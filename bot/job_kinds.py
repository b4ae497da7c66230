"""The kinds of job the queue runs (``bot/jobqueue.py``) and what each does.

A job whose effect is new rows (the helpers import, a broadcast) marks itself done in the
transaction that writes them: a worker dying after that commit leaves a job that is done,
not one that runs twice. Registry imports update rows keyed by name and the purge
anonymises what is left, so running them again changes nothing; training writes files and
is safe to run again (a new version).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from bot.admin.training import run_training
from bot.jobqueue import Handler, JobContext, Progress, complete_in, principal_of, subject_of
from handlers.errors import InvalidInput
from handlers.grid_notices import scope_from_json
from handlers.helper_registry_service import HelperRegistry
from handlers.notice_service import NoticeService
from handlers.registry_csv import RegistryImports
from handlers.registry_service import RegistryDesk
from handlers.retention_service import purge
from handlers.street_registry import StreetRegistry
from storage.models import NluJob


async def import_helpers(ctx: JobContext, job: NluJob, progress: Progress) -> dict[str, Any]:
    """``import``: building heads and volunteers from a CSV (all or nothing)."""
    payload = job.payload or {}
    progress("running", 0.1)
    helpers = HelperRegistry(ctx.store, ctx.clock)
    async with ctx.store.unit() as uow:
        created = await helpers.import_in(
            uow, subject_of(payload["subject"]), str(payload.get("text", ""))
        )
        result = {"created": created}
        await complete_in(uow, job, result, ctx.clock.now())
    return result


async def import_registry(ctx: JobContext, job: NluJob, progress: Progress) -> dict[str, Any]:
    """``registry``: buildings, workers or streets from a CSV (all or nothing; rows are keyed
    by name, so a retried import updates what the first one wrote). The web process that
    waits for it drops its cached registry; the others refresh theirs within seconds."""
    payload = job.payload or {}
    p = principal_of(payload["principal"])
    data = base64.b64decode(str(payload.get("data", "")))
    community_id = payload.get("community_id")
    cid = community_id if isinstance(community_id, int) else None
    ip = str(payload.get("ip", ""))
    progress("running", 0.1)
    what = payload.get("what")
    if what == "streets":
        result = await StreetRegistry(ctx.store, ctx.clock, lambda: None).import_csv(p, data, ip=ip)
    else:
        imports = RegistryImports(ctx.store, ctx.clock, RegistryDesk(ctx.store, ctx.clock))
        if what == "buildings":
            result = await imports.import_buildings(p, data, community_id=cid, ip=ip)
        elif what == "workers":
            result = await imports.import_workers(p, data, community_id=cid, ip=ip)
        else:
            raise InvalidInput(f"未知的导入类型 {what!r}")
    return {"created": result.created, "updated": result.updated}


async def broadcast(ctx: JobContext, job: NluJob, progress: Progress) -> dict[str, Any]:
    """``broadcast``: a notice to every resident of a place, queued in the outbox."""
    payload = job.payload or {}
    progress("running", 0.1)
    try:
        scope = scope_from_json(payload["scope"])
    except ValueError as e:
        raise InvalidInput(f"scope 有误：{e}") from e
    notices = NoticeService(ctx.store, ctx.clock, ctx.on_outbox)
    async with ctx.store.unit() as uow:
        published = await notices.publish_in(
            uow,
            subject_of(payload["subject"]),
            scope,
            str(payload.get("text", "")),
            category=str(payload.get("category", "")),
            starts_at=_when(payload.get("starts_at")),
            ends_at=_when(payload.get("ends_at")),
            by=str(payload.get("by", "")),
        )
        notice = published.notice
        result = {
            "id": notice.id or 0,
            "recipients": published.recipients,
            "unreachable": published.unreachable,
            "opted_out": published.opted_out,
            "helpers": published.helpers,
            "scope_name": notice.scope_name,
        }
        await complete_in(uow, job, result, ctx.clock.now())
    if published.recipients:
        ctx.on_outbox()
    return result


async def privacy_purge(ctx: JobContext, job: NluJob, progress: Progress) -> dict[str, Any]:
    """``purge``: anonymise what residents sent before the retention window (idempotent)."""
    days = int((job.payload or {}).get("days") or ctx.settings.privacy.retention_days)
    progress("running", 0.1)
    report = await purge(ctx.store, now=ctx.clock.now(), days=days)
    return {
        "cutoff": report.cutoff.isoformat(),
        "messages": report.messages,
        "sent": report.sent,
        "photos": report.photos,
        "text": report.text(),
    }


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


HANDLERS: dict[str, Handler] = {
    "train": run_training,
    "import": import_helpers,
    "registry": import_registry,
    "broadcast": broadcast,
    "purge": privacy_purge,
}
