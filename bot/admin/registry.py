"""The registry in the console: the running service's registry desk and CSV imports
(``handlers.registry_service``, ``handlers.registry_csv``). A change drops the service's
cached building list so routing sees it at once (other processes refresh within seconds)."""

from __future__ import annotations

import base64

from bot.container import Container
from bot.jobqueue import principal_payload, submit_and_wait
from handlers.accounts import Principal
from handlers.guards import require, require_some
from handlers.permissions import Action
from handlers.registry_csv import RegistryImports
from handlers.registry_rules import ImportResult
from handlers.registry_service import RegistryDesk


def desk(c: Container) -> RegistryDesk:
    return RegistryDesk(c.store, c.clock, on_change=c.service.invalidate_registry)


def imports(c: Container) -> RegistryImports:
    return RegistryImports(c.store, c.clock, desk(c))


async def import_job(
    c: Container, p: Principal, what: str, data: bytes, *, community_id: int | None, ip: str
) -> tuple[int, ImportResult | None]:
    """A registry CSV import (``buildings``, ``workers``, ``streets``) as a job of the queue
    (``bot/jobqueue.py``): its id and result, or None when it has not finished within
    ``MINHU_JOBS__WAIT_SECONDS``. Raises its ``ImportFailed`` with every bad row."""
    # refused before anything is queued (the job checks again: the account may change)
    if what == "streets":
        require(p.subject, Action.CREATE_COMMUNITY)
    else:
        require_some(p.subject, Action.MANAGE_REGISTRY)
    job_id, result = await submit_and_wait(
        c.store,
        c.clock,
        "registry",
        {
            "what": what,
            "principal": principal_payload(p),
            "data": base64.b64encode(data).decode("ascii"),
            "community_id": community_id,
            "ip": ip,
        },
        by=p.username,
        wait=c.settings.jobs.wait_seconds,
    )
    if result is None:
        return job_id, None
    c.service.invalidate_registry()  # this process routes with the new registry at once
    return job_id, ImportResult(created=int(result["created"]), updated=int(result["updated"]))
