"""随手拍: a grid worker on patrol files what they see ("随手拍 5幢 楼道堆放杂物" with or without
a photo). The ticket is marked as found on patrol, assigned to the worker and accepted at once
(they are standing in front of it); no resident is waiting, so no call-back promise runs."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.address import BuildingRef, resolve_building
from handlers.flows import FLOWS, category_label
from handlers.i18n import t
from handlers.lifecycle import Actor
from handlers.messages import Outbound
from handlers.notices import LOCAL_TZ, task_buttons
from handlers.ticket_service import TicketService
from nlu.types import Parse
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket


async def file_patrol(
    uow: UnitOfWork,
    tickets: TicketService,
    worker: GridWorker,
    note: str,
    photos: Sequence[int],
    parse: Parse | None,
    locale: str,
) -> Outbound:
    """Create the patrol ticket; ``note`` is "<building or place> <what was seen>"."""
    place, _, what = note.strip().partition(" ")
    what = what.strip()
    if not place or not what:
        return Outbound(text=t("patrol.usage", locale))
    buildings = [
        BuildingRef(b.id or 0, b.name, tuple(b.aliases or ()), b.community_id, "", b.grid_id)
        for b in await uow.registry.buildings(worker.community_id)
    ]
    found = resolve_building(place, buildings, community_id=worker.community_id)
    building = await uow.registry.building(found[0].id) if found else None
    intent = parse.intent.name if parse is not None else ""
    flow = FLOWS.get(intent)
    category = flow.category if flow is not None else "other"
    now = tickets.clock.now()
    number = await uow.tickets.next_number(now.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
    ticket = await uow.tickets.add(
        Ticket(
            number=number,
            community_id=worker.community_id,
            category=category,
            priority="normal",
            status="submitted",
            description=what,
            building_id=building.id if building else None,
            building_name=building.name if building else "",
            location_note="" if building else place,
            latitude=building.latitude if building else None,
            longitude=building.longitude if building else None,
            grid_id=building.grid_id if building and building.grid_id else worker.grid_id,
            channel="",
            extra={"source": "patrol", "found_by": worker.name},
            created_at=now,
            updated_at=now,
        )
    )
    actor = Actor.worker(worker.id, worker.name)
    await tickets.event(
        uow, ticket, "created", actor, note=f"随手拍：{what}", data={"patrol": True}
    )
    if photos:
        await uow.attachments.attach(list(photos), ticket.id or 0)
    await tickets.sla_clocks.for_new(uow, ticket)
    # no task card to themselves: the reply below carries the ticket's buttons
    await tickets.assign(uow, ticket, worker, "随手拍（巡查发现）", actor=actor, card=False)
    await tickets.accept(uow, ticket, worker, actor)
    await tickets.hotspots.after_report(uow, ticket)
    where = building.name if building else place
    return Outbound(
        text=t(
            "patrol.done",
            locale,
            number=number,
            category=category_label(category, locale),
            place=where,
            photos=t("patrol.photos", locale, count=len(photos)) if photos else "",
        ),
        buttons=task_buttons(number, locale, ticket.status),
        kind="worker_notice",
        data={"number": number},
    )
