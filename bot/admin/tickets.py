"""Tickets in the console: the running service's staff desk (``handlers.staff_ticket_service``)."""

from __future__ import annotations

from bot.channels.web import sign
from bot.container import Container
from handlers.overdue import Targets
from handlers.staff_ticket_service import StaffTicketDesk
from handlers.ticket_console_service import TicketConsole


def targets_of(c: Container) -> Targets:
    """The SLA policy the running service (and its clocks) uses."""
    return Targets(c.service.tickets.config.sla)


def desk(c: Container) -> StaffTicketDesk:
    secret = c.settings.secret_key.get_secret_value()

    def photo_url(attachment_id: int) -> str:
        return f"/api/v1/attachments/{attachment_id}?sig={sign(secret, str(attachment_id))}"

    return StaffTicketDesk(
        store=c.store,
        clock=c.clock,
        tickets=c.service.tickets,
        targets=targets_of(c),
        photo_url=photo_url,
        kick=c.dispatcher.kick,
    )


def console(c: Container) -> TicketConsole:
    return TicketConsole(c.store, c.clock, c.service.tickets, c.dispatcher.kick)
