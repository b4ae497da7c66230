"""A department's conversation: its contact answers the tickets handed to it."""

from __future__ import annotations

from dataclasses import replace

from handlers.conversations.context import task_line
from handlers.departments import (
    DepartmentInput,
    DeptCommand,
    parse_department_button,
    parse_department_text,
)
from handlers.dialogue import DialogueState
from handlers.errors import InvalidTransition
from handlers.i18n import locale_of, status_text, t
from handlers.lifecycle import OPEN_STATUSES, Actor
from handlers.messages import Button, Inbound, MediaKind, Outbound
from handlers.ticket_service import TicketService
from storage.interfaces import UnitOfWork
from storage.models import Department, DepartmentContact


class DepartmentConversation:
    """Departments (城管, 交管, 物业 …) reply to, and report done, the tickets handed to them.

    The grid worker stays accountable: a department's reply reaches the worker and the
    resident, and the worker resolves.

    Args:
        tickets: the ticket operations the replies are recorded with.
    """

    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets

    async def turn(
        self,
        uow: UnitOfWork,
        department: Department,
        contact: DepartmentContact,
        msg: Inbound,
        state: DialogueState,
    ) -> tuple[list[Outbound], DialogueState]:
        """A department's contact writes: a reply (or "done") on a ticket handed to them.

        Args:
            uow: the message's unit of work (the caller commits it).
            department: the department the sender is a contact of.
            contact: the sender.
            msg: the message.
            state: the conversation state (``worker_pending`` holds a reply awaiting its text).

        Returns:
            The replies and the new state.
        """
        locale = locale_of(msg.locale)
        text = msg.text.strip()
        name = department.name
        given: DepartmentInput | None = None
        if msg.button:
            given = parse_department_button(msg.button)
        elif text or msg.media:
            given = parse_department_text(text)
            pending = parse_department_button(state.worker_pending or "")
            if pending is not None and given.command == DeptCommand.REPLY and not given.number:
                given = replace(pending, note=text)
        state.worker_pending = None
        if given is None or given.command == DeptCommand.HELP:
            return [Outbound(text=t("dept.help", locale))], state
        tickets = list(
            await uow.departments.active_tickets(
                department.id or 0, statuses=(*OPEN_STATUSES, "resolved")
            )
        )
        if given.command == DeptCommand.TASKS:
            if not tickets:
                return [Outbound(text=t("dept.no_tasks", locale, department=name))], state
            lines = [t("dept.tasks", locale, department=name)]
            lines += [task_line(ticket, locale) for ticket in tickets]
            return [Outbound(text="\n".join(lines))], state
        if given.number:
            if given.number not in {tk.number for tk in tickets}:
                return [
                    Outbound(text=t("dept.not_found", locale, number=given.number, department=name))
                ], state
            number = given.number
        elif len(tickets) == 1:
            number = tickets[0].number
        elif not tickets:
            return [Outbound(text=t("dept.no_tasks", locale, department=name))], state
        else:
            return [
                Outbound(
                    text=t(
                        "dept.which",
                        locale,
                        department=name,
                        count=len(tickets),
                        number=tickets[0].number,
                    ),
                    buttons=tuple(
                        Button(f"{tk.number}", f"dept_{given.command.value}:{tk.number}")
                        for tk in tickets[:8]
                    ),
                )
            ], state
        photos = [
            int(m.ref.removeprefix("attachment:"))
            for m in msg.media
            if m.kind == MediaKind.IMAGE and m.ref.removeprefix("attachment:").isdigit()
        ]
        if not given.note and not photos and (msg.button or given.command == DeptCommand.REPLY):
            state.worker_pending = f"dept_{given.command.value}:{number}"
            action = t(f"dept.action.{given.command.value}", locale)
            return [Outbound(text=t("dept.ask_note", locale, number=number, action=action))], state
        ticket = await uow.tickets.by_number(number, for_update=True)
        if ticket is None:  # pragma: no cover - just listed
            return [
                Outbound(text=t("dept.not_found", locale, number=number, department=name))
            ], state
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        note = given.note
        if photos:
            note = f"{note}{t('worker.supplement.photos', 'zh', count=len(photos))}".strip()
        done = given.command == DeptCommand.DONE
        actor = Actor.department(department.id, f"{name}{contact.name}" if contact.name else name)
        try:
            await self.tickets.record_department_reply(
                uow, ticket, department, note, actor, done=done
            )
        except InvalidTransition:
            status = status_text(ticket.status, locale)
            return [Outbound(text=t("dept.ended", locale, number=number, status=status))], state
        key = "dept.done_ok" if done else "dept.reply_ok"
        return [Outbound(text=t(key, locale, number=number))], state
