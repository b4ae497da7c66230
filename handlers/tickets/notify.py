"""Telling people (I/O): messages to the resident and followers, workers and departments.

Nothing is sent from here: every message is queued in the outbox in the caller's transaction
(``uow.queued`` counts them), so it goes out only if the move commits; the ticket service
wakes the dispatcher after the commit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from handlers.codec import outbound_to_dict
from handlers.messages import Outbound
from handlers.notices import TicketFacts, follower_update, resident_update, task_card
from handlers.ports import Clock
from handlers.sla import ClockKind
from handlers.tickets.common import facts_of, log, reporter_locale
from nlu.pii import mask
from storage.interfaces import UnitOfWork
from storage.models import Ticket


async def with_accept_deadline(uow: UnitOfWork, facts: TicketFacts, ticket: Ticket) -> TicketFacts:
    """The facts with the deadline of the ticket's running accept clock (for task cards)."""
    clocks = await uow.clocks.for_ticket(ticket.id or 0, status="pending")
    callback = [c.due_at for c in clocks if c.kind == ClockKind.CALLBACK.value]
    if callback:
        facts = replace(facts, callback_by=min(callback))
    accept = [c for c in clocks if c.kind == ClockKind.ACCEPT.value]
    if not accept:
        return facts
    clock = min(accept, key=lambda c: c.due_at)
    return replace(
        facts, respond_by=clock.due_at, respond_within=timedelta(seconds=clock.target_seconds)
    )


class Notifications:
    """Queues the messages a move sends.

    Args:
        clock: the time source (stamps the outbox rows).
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def reporter_locale(self, uow: UnitOfWork, ticket: Ticket) -> str:
        return await reporter_locale(uow, ticket)

    async def push_resident(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        kind: str,
        *,
        reporter: bool = True,
        followers: bool = True,
        photos: tuple[int, ...] = (),
        **values: str,
    ) -> int:
        """Tell the reporter (in the chat where they reported) and every follower.

        ``photos``: attachments the worker sent with the update; the first goes along.
        Returns how many residents were told.
        """
        facts = facts_of(ticket)
        image = f"attachment:{photos[0]}" if photos else None
        sent = 0
        if reporter and ticket.channel and ticket.channel_user_id:
            locale = await reporter_locale(uow, ticket)
            await self._enqueue(
                uow,
                ticket.channel,
                ticket.channel_user_id,
                replace(resident_update(kind, facts, locale, **values), image=image),
                ticket,
            )
            sent += 1
        if followers:
            # a worker's note is written for the reporter ("已联系住户王建国…"): a neighbour who
            # follows the same problem gets it with names, phones and rooms masked
            shared = {k: mask(v) if k == "note" else v for k, v in values.items()}
            for follower in await uow.followers.for_ticket(ticket.id or 0):
                if (follower.channel, follower.user_id) == (ticket.channel, ticket.channel_user_id):
                    continue
                locale = "zh"
                if follower.resident_id is not None:
                    resident = await uow.registry.resident(follower.resident_id)
                    locale = resident.locale if resident else "zh"
                message = replace(follower_update(kind, facts, locale, **shared), image=image)
                await self._enqueue(uow, follower.channel, follower.user_id, message, ticket)
                sent += 1
        return sent

    async def push_reporter(self, uow: UnitOfWork, ticket: Ticket, message: Outbound) -> bool:
        """A message of its own to the reporter only (followers are not told)."""
        if not (ticket.channel and ticket.channel_user_id):
            return False
        await self._enqueue(uow, ticket.channel, ticket.channel_user_id, message, ticket)
        return True

    async def _enqueue(
        self, uow: UnitOfWork, channel: str, user_id: str, message: Outbound, ticket: Ticket
    ) -> None:
        await uow.outbox.enqueue(
            channel, user_id, outbound_to_dict(message), now=self.clock.now(), ticket_id=ticket.id
        )
        uow.queued += 1

    async def push_task(
        self, uow: UnitOfWork, worker_id: int, ticket: Ticket, *, prefix: str = ""
    ) -> None:
        """A task card (with the first photo) to a worker."""
        attachments = await uow.attachments.for_ticket(ticket.id or 0)
        facts = await with_accept_deadline(uow, facts_of(ticket, photos=len(attachments)), ticket)
        card = task_card(facts, "zh", prefix=prefix)
        if attachments:
            card = replace(card, image=f"attachment:{attachments[0].id}")
        await self.push_to_worker(uow, worker_id, card, ticket)

    async def push_to_worker(
        self, uow: UnitOfWork, worker_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        """Queue a message to a worker's preferred reachable channel."""
        identities = [i for i in await uow.registry.worker_identities(worker_id) if i.reachable]
        if not identities:
            log.warning("worker %s has no reachable channel; message not queued", worker_id)
            return False
        target = identities[0]
        await uow.outbox.enqueue(
            target.channel,
            target.user_id,
            outbound_to_dict(message),
            now=self.clock.now(),
            ticket_id=ticket.id if ticket else None,
            worker_id=worker_id,
        )
        uow.queued += 1
        return True

    async def push_department(
        self, uow: UnitOfWork, department_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        """Queue a message to a department's first reachable contact."""
        contacts = [c for c in await uow.departments.contacts(department_id) if c.reachable]
        if not contacts:
            log.warning("department %s has no reachable contact; message not queued", department_id)
            return False
        await uow.outbox.enqueue(
            contacts[0].channel,
            contacts[0].user_id,
            outbound_to_dict(message),
            now=self.clock.now(),
            ticket_id=ticket.id if ticket else None,
        )
        uow.queued += 1
        return True
