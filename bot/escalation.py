"""When a worker cannot be reached on any channel, relay the message to a supervisor.

The outbox falls back to a worker's next reachable channel first (bot/outbox.py). When none
is left -- every identity blocked the bot or unsubscribed -- a task would otherwise be lost in
silence, so the message goes to the nearest reachable supervisor: a grid leader up the worker's
grid chain, then a community-wide grid leader, then community staff (the routing order of
handlers.routing). The relay is a notification only; it does not reassign the ticket (the
leader can act on it: grid leaders and staff may accept or transfer tickets in their area).
"""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.i18n import t
from handlers.privacy import mask_id
from handlers.routing import GridRef, Role, WorkerRef, route
from storage.interfaces import UnitOfWork
from storage.models import Outbox

log = logging.getLogger("minhu.outbox")

RELAY_KIND = "relay"


async def relay_to_supervisor(uow: UnitOfWork, item: Outbox, now: datetime) -> bool:
    """Queue ``item``'s message for the worker's nearest reachable supervisor.

    Returns:
        True when a supervisor was found and the relay queued; False otherwise (nobody
        reachable, or the message was itself a relay: relays are never relayed again).
    """
    if item.worker_id is None or item.payload.get("kind") == RELAY_KIND:
        return False
    worker = await uow.registry.worker(item.worker_id)
    if worker is None:
        return False
    grids = {
        g.id: GridRef(g.id, g.name, g.community_id, g.parent_id, g.level)
        for g in await uow.registry.grids(worker.community_id)
        if g.id is not None
    }
    supervisors = [
        WorkerRef(
            id=w.id,
            name=w.name,
            role=w.role,
            community_id=w.community_id,
            grid_id=w.grid_id,
            on_duty=w.on_duty,
            active=w.active,
        )
        for w in await uow.registry.workers(worker.community_id)
        if w.id is not None and w.id != worker.id and w.role != Role.GRID_WORKER
    ]
    tried: set[int] = set()
    while True:
        decision = route(
            grid_id=worker.grid_id,
            community_id=worker.community_id,
            grids=grids,
            workers=supervisors,
            exclude=frozenset(tried),
        )
        supervisor = decision.worker
        if supervisor is None:
            log.error("worker %s unreachable everywhere and no supervisor reachable", worker.id)
            return False
        reachable = [i for i in await uow.registry.worker_identities(supervisor.id) if i.reachable]
        if reachable:
            break
        tried.add(supervisor.id)
    target = reachable[0]
    text = t("push.relayed", "zh", name=worker.name, text=str(item.payload.get("text", "")))
    payload = {
        "text": text,
        "buttons": list(item.payload.get("buttons") or []),
        "kind": RELAY_KIND,
        "data": {**dict(item.payload.get("data") or {}), "relayed_for": str(worker.id)},
    }
    await uow.outbox.enqueue(
        target.channel,
        target.user_id,
        payload,
        now=now,
        ticket_id=item.ticket_id,
        worker_id=supervisor.id,
    )
    log.warning(
        "worker %s unreachable on every channel; relayed to supervisor %s on %s:%s",
        worker.id,
        supervisor.id,
        target.channel,
        mask_id(target.user_id),
    )
    return True
