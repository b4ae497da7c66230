"""The staff API (I/O): one transaction per call, by ticket number, permission checked.

For callers that hold no transaction of their own (scripts, the chat's staff commands, the
README's examples). Each call locks the ticket, checks the actor against
``handlers.permissions`` (admin and system actors are authorised by their caller), makes the
move through the same code the console uses, commits, and wakes the outbox dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from handlers.departments import DepartmentKind
from handlers.errors import PermissionDenied
from handlers.i18n import t
from handlers.lifecycle import Actor
from handlers.permissions import Action
from handlers.tickets import access
from handlers.tickets.common import locked_ticket
from handlers.tickets.departments import DepartmentWork, find_department
from handlers.tickets.staff import StaffMoves
from storage.interfaces import Store, UnitOfWork
from storage.models import Department, Ticket


class StaffDesk:
    """Ticket operations by number, each in its own transaction.

    Args:
        store: units of work over the database.
        staff: the staff moves.
        departments: hand-offs and department replies.
        kick: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self,
        store: Store,
        staff: StaffMoves,
        departments: DepartmentWork,
        kick: Callable[[], None],
    ) -> None:
        self.store = store
        self.staff = staff
        self.work = departments
        self.kick = kick

    async def _on_ticket(
        self,
        number: str,
        actor: Actor,
        action: Action,
        change: Callable[[UnitOfWork, Ticket], Awaitable[object]],
    ) -> Ticket:
        async with self.store.unit() as uow:
            ticket = await locked_ticket(uow, number)
            await access.check(uow, actor, ticket, action)
            await change(uow, ticket)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def merge(self, number: str, into: str, *, actor: Actor, reason: str = "") -> Ticket:
        """Merge ticket ``number`` into ticket ``into`` (staff).

        Raises:
            TicketNotFound, PermissionDenied, InvalidTransition (a closed ticket, or itself).
        """
        async with self.store.unit() as uow:
            first, second = sorted([number.upper(), into.upper()])
            # lock in a fixed order: two staff merging crosswise must not deadlock
            locked = {n: await locked_ticket(uow, n) for n in (first, second) if n}
            source, target = locked[number.upper()], locked[into.upper()]
            await access.check(uow, actor, source, Action.MERGE)
            await access.check(uow, actor, target, Action.MERGE)
            await self.staff.merge_tickets(
                uow,
                source,
                target,
                actor,
                reason or t("worker.merge_ok", source=source.number, target=target.number),
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return source

    async def hand_to_department(
        self,
        number: str,
        department: str | int,
        *,
        actor: Actor,
        note: str = "",
        cohandler: bool = False,
    ) -> Ticket:
        """Hand a ticket to a department (or add one as co-handler); the assignee stays in charge.

        Raises:
            TicketNotFound, UnknownDepartment, PermissionDenied, InvalidTransition.
        """

        async def change(uow: UnitOfWork, ticket: Ticket) -> None:
            found = await find_department(uow, department, ticket.community_id)
            await self.work.involve_department(
                uow, ticket, found, actor, note=note, cohandler=cohandler
            )

        return await self._on_ticket(number, actor, Action.HANDLE, change)

    async def department_reply(
        self, number: str, department: str | int, text: str, *, actor: Actor, done: bool = False
    ) -> Ticket:
        """Record a department's reply (typed into the console on its behalf, or by itself).

        Raises:
            TicketNotFound, UnknownDepartment, PermissionDenied, InvalidTransition.
        """
        async with self.store.unit() as uow:
            ticket = await locked_ticket(uow, number)
            found = await find_department(uow, department, ticket.community_id)
            if actor.kind == "department" and actor.id != str(found.id):
                raise PermissionDenied("a department answers only for itself")
            await access.check(uow, actor, ticket, Action.DEPARTMENT_REPLY)
            await self.work.record_department_reply(uow, ticket, found, text, actor, done=done)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def add_note(
        self, number: str, text: str, *, actor: Actor, tell_resident: bool = False
    ) -> Ticket:
        """A note on the timeline; the assignee is told, the resident only when asked."""

        async def change(uow: UnitOfWork, ticket: Ticket) -> None:
            await self.staff.add_note(uow, ticket, text, actor, tell_resident=tell_resident)

        return await self._on_ticket(number, actor, Action.NOTE, change)

    async def close(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Close a resolved ticket, or resolve and close one being worked on (staff).

        A ticket nobody accepted yet is refused here: ``cancel`` withdraws it.
        """

        async def change(uow: UnitOfWork, ticket: Ticket) -> None:
            await self.staff.close(uow, ticket, actor, reason=reason)

        return await self._on_ticket(number, actor, Action.CLOSE, change)

    async def cancel(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Withdraw a ticket nobody has accepted yet (a mistaken or test report; staff)."""

        async def change(uow: UnitOfWork, ticket: Ticket) -> None:
            await self.staff.cancel(uow, ticket, actor, reason=reason)

        return await self._on_ticket(number, actor, Action.CANCEL, change)

    async def escalate_now(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Escalate one level above the current handler by hand (staff or the assignee)."""

        async def change(uow: UnitOfWork, ticket: Ticket) -> None:
            await self.staff.escalate_manually(uow, ticket, actor, reason=reason)

        return await self._on_ticket(number, actor, Action.ESCALATE, change)

    async def departments(self, community_id: int | None = None) -> list[Department]:
        async with self.store.unit() as uow:
            return list(await uow.departments.for_community(community_id, active_only=False))

    async def register_department(
        self,
        name: str,
        *,
        kind: str = DepartmentKind.OTHER,
        community_id: int | None = None,
        aliases: Iterable[str] = (),
        phone: str = "",
        contacts: Iterable[tuple[str, str, str]] = (),
    ) -> Department:
        """Add a department with its contacts ((channel, user id, name) each).

        Raises:
            StorageError (DuplicateError): the name or a contact identity exists already.
        """
        async with self.store.unit() as uow:
            return await self.work.register(
                uow,
                name,
                kind=kind,
                community_id=community_id,
                aliases=aliases,
                phone=phone,
                contacts=contacts,
            )
