"""The resident's side of a ticket (I/O): rating it, finding a report it repeats, following
someone else's ticket about the same problem, adding information or photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers.duplicates import DuplicatePolicy, OpenTicket, Place, find_duplicate
from handlers.i18n import t
from handlers.lifecycle import TOP_LEVEL, Actor, Move, next_status
from handlers.messages import Button, Outbound
from handlers.notices import worker_notice
from handlers.ports import Clock
from handlers.tickets.common import OPEN_STATUSES, Duplicate, handler_level, reporter_locale
from handlers.tickets.escalation import Escalation, who_text
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Ticket


class ResidentSide:
    """Ratings, duplicates, followers and supplements.

    Args:
        clock: the time source.
        duplicates: when two reports are the same problem.
        moves: applies the moves.
        notify: tells workers, departments and residents.
        escalation: an unsatisfied rating escalates one level.
    """

    def __init__(
        self,
        clock: Clock,
        duplicates: DuplicatePolicy,
        moves: Moves,
        notify: Notifications,
        escalation: Escalation,
    ) -> None:
        self.clock = clock
        self.duplicates = duplicates
        self.moves = moves
        self.notify = notify
        self.escalation = escalation

    async def rate(
        self, uow: UnitOfWork, ticket: Ticket, score: int, comment: str, actor: Actor
    ) -> Outbound:
        """A rating: 3+ closes; 1–2 reopens and escalates one level above the handler."""
        next_status(ticket.status, Move.RATE if score >= 3 else Move.REOPEN)  # before changes
        locale = await reporter_locale(uow, ticket)
        ticket.rating = score
        ticket.rating_comment = comment
        if score >= 3:
            await self.moves.apply(
                uow, ticket, Move.RATE, actor, note=comment, data={"score": score}
            )
            if ticket.assignee_id:
                await self.notify.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    worker_notice(
                        "push.rated_worker", ticket.number, score=score, status=ticket.status
                    ),
                    ticket,
                )
            return Outbound(text=t("rate.thanks", locale, score=score, number=ticket.number))
        level = min(TOP_LEVEL, await handler_level(uow, ticket) + 1)
        await self.moves.apply(uow, ticket, Move.REOPEN, actor, note=comment, data={"score": score})
        await self.notify.push_resident(uow, ticket, "reopened", reporter=False)
        reached, targets = await self.escalation.escalate(
            uow,
            ticket,
            level,
            actor,
            reason=f"居民不满意（{score}星）" + (f"：{comment}" if comment else ""),
            why="reopened",
            score=score,
        )
        more = (Button(t("supplement.button.more", locale), f"supplement:{ticket.number}"),)
        if not targets:
            if ticket.assignee_id:
                await self.notify.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    worker_notice(
                        "push.reopened_worker", ticket.number, score=score, status=ticket.status
                    ),
                    ticket,
                )
            return Outbound(text=t("rate.reopened", locale, number=ticket.number), buttons=more)
        return Outbound(
            text=t(
                "rate.reopened_escalated",
                locale,
                number=ticket.number,
                who=who_text(reached, targets, locale),
            ),
            buttons=more,
        )

    async def find_duplicate(
        self,
        uow: UnitOfWork,
        *,
        category: str,
        community_id: int | None,
        building_id: int | None,
        latitude: float | None,
        longitude: float | None,
        channel: str,
        user_id: str,
    ) -> Duplicate | None:
        """An open ticket about the same problem (see handlers.duplicates)."""
        policy = self.duplicates
        if not policy.enabled or category in policy.exclude:
            return None
        rows = await uow.finder.open_similar(
            community_id=community_id,
            category=category,
            building_id=building_id,
            statuses=OPEN_STATUSES,
        )
        if not rows:
            return None
        buildings = {b.id: b for b in await uow.registry.buildings(community_id)}

        def place(
            b_id: int | None, lat: float | None, lon: float | None, c_id: int | None
        ) -> Place:
            building = buildings.get(b_id) if b_id is not None else None
            if (lat is None or lon is None) and building is not None:
                lat, lon = building.latitude, building.longitude
            return Place(c_id, b_id, lat, lon)

        candidates = sorted(
            (
                OpenTicket(
                    r.number,
                    r.category,
                    place(r.building_id, r.latitude, r.longitude, r.community_id),
                    (r.channel, r.channel_user_id),
                )
                for r in rows
            ),
            key=lambda c: c.number,
        )
        found = find_duplicate(
            category, place(building_id, latitude, longitude, community_id), candidates, policy
        )
        if found is None:
            return None
        ticket = next(r for r in rows if r.number == found.number)
        return Duplicate(ticket, found.reporter == (channel, user_id))

    async def follow(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        *,
        channel: str,
        user_id: str,
        resident_id: int | None,
    ) -> bool:
        """Subscribe a resident to a ticket's updates; False when they already get them."""
        next_status(ticket.status, Move.FOLLOW)
        if (ticket.channel, ticket.channel_user_id) == (channel, user_id):
            return False
        added = await uow.followers.add(
            ticket.id or 0,
            channel,
            user_id,
            resident_id=resident_id,
            via="duplicate",
            now=self.clock.now(),
        )
        if not added:
            return False
        count = len(await uow.followers.for_ticket(ticket.id or 0)) + 1
        await self.moves.apply(
            uow,
            ticket,
            Move.FOLLOW,
            Actor.resident(resident_id),
            data={"residents": count},
        )
        if ticket.assignee_id:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice("worker.follow", ticket.number, count=count, status=ticket.status),
                ticket,
            )
        return True

    async def supplement(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        *,
        text: str,
        photos: Sequence[int] = (),
    ) -> str:
        """The resident adds information or photos; the assignee (and departments) are told.

        Returns who was told, in words for the resident.
        """
        next_status(ticket.status, Move.SUPPLEMENT)
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        await self.moves.apply(
            uow, ticket, Move.SUPPLEMENT, actor, note=text, data={"photos": list(photos)}
        )
        extra = t("worker.supplement.photos", count=len(photos)) if photos else ""
        message = worker_notice(
            "worker.supplement", ticket.number, note=text or "-", photos=extra, status=ticket.status
        )
        if photos:
            message = replace(message, image=f"attachment:{photos[0]}")
        for party in await uow.departments.parties(ticket.id or 0):
            if party.status == "active":
                await self.notify.push_department(
                    uow, party.department_id, replace(message, buttons=()), ticket
                )
        if ticket.assignee_id is None:
            return t("supplement.who.community")
        await self.notify.push_to_worker(uow, ticket.assignee_id, message, ticket)
        worker = await uow.registry.worker(ticket.assignee_id)
        return t("supplement.who.worker", name=worker.name if worker else "")
