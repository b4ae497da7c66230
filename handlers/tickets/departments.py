"""Departments on a ticket (I/O): handing a ticket to a department (城管, 交管, 物业 …) or
adding one as co-handler, recording their replies, and the department register.

The assignee stays accountable while a department works on the ticket; a department's
contact gets the case without the resident's phone, unit or room.
"""

from __future__ import annotations

from collections.abc import Iterable

from handlers.departments import DepartmentKind, resolve_department
from handlers.flows import category_label
from handlers.i18n import t
from handlers.lifecycle import Actor, Move, next_status
from handlers.messages import Button, Outbound
from handlers.notices import worker_notice
from handlers.ports import Clock
from handlers.tickets.common import UnknownDepartment, department_ref
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Department, DepartmentContact, Ticket


async def find_department(
    uow: UnitOfWork, department: str | int, community_id: int | None
) -> Department:
    """A department by id, or by name or alias among those serving the community.

    Raises:
        UnknownDepartment: no such (active) department.
    """
    if isinstance(department, int):
        found = await uow.departments.get(department)
        if found is None or not found.active:
            raise UnknownDepartment(f"no department {department}")
        return found
    rows = await uow.departments.for_community(community_id)
    ref = resolve_department(
        department, [department_ref(d) for d in rows], community_id=community_id
    )
    if ref is None:
        raise UnknownDepartment(f"no department called {department!r}")
    return next(d for d in rows if d.id == ref.id)


class DepartmentWork:
    """Hand-offs, co-handling and department replies.

    Args:
        clock: the time source.
        moves: applies the moves.
        notify: the department's card, the worker's and the resident's notices.
    """

    def __init__(self, clock: Clock, moves: Moves, notify: Notifications) -> None:
        self.clock = clock
        self.moves = moves
        self.notify = notify

    async def involve_department(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        department: Department,
        actor: Actor,
        *,
        note: str = "",
        cohandler: bool = False,
    ) -> bool:
        """Hand a ticket to a department (or add it as co-handler) and send it the case.

        The assignee stays accountable; returns False when the department has no reachable
        contact (the worker is told to phone them).
        """
        move = Move.COHANDLE if cohandler else Move.HANDOFF
        next_status(ticket.status, move)
        await uow.departments.add_party(
            ticket.id or 0,
            department.id or 0,
            role="cohandler" if cohandler else "lead",
            added_by=actor.name,
            now=self.clock.now(),
        )
        await self.moves.apply(
            uow,
            ticket,
            move,
            actor,
            note=note,
            data={
                "department_id": department.id,
                "department": department.name,
                "role": "cohandler" if cohandler else "lead",
            },
        )
        assignee = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        grid = await uow.registry.grid(ticket.grid_id) if ticket.grid_id else None
        photos = await uow.attachments.for_ticket(ticket.id or 0)
        card = Outbound(
            text=t(
                "dept.card.cohandle" if cohandler else "dept.card",
                number=ticket.number,
                category=category_label(ticket.category),
                urgent=t("task.urgent") if ticket.priority == "urgent" else "",
                # building level only: a department gets no phone, unit or room of the resident
                location=ticket.building_name or ticket.location_note or "-",
                description=ticket.description,
                photos=t("dept.card.photos", count=len(photos)) if photos else "",
                worker=actor.name if assignee is None else assignee.name,
                grid=grid.name if grid else "-",
                note=t("dept.card.note", note=note) if note else "",
            ),
            buttons=(
                Button(t("dept.button.reply"), f"dept_reply:{ticket.number}"),
                Button(t("dept.button.done"), f"dept_done:{ticket.number}"),
            ),
            image=f"attachment:{photos[0].id}" if photos else None,
            kind="department_card",
            data={"number": ticket.number, "department": department.name},
        )
        reached = await self.notify.push_department(uow, department.id or 0, card, ticket)
        await self.notify.push_resident(
            uow,
            ticket,
            "cohandle" if cohandler else "handoff",
            department=department.name,
            worker=assignee.name if assignee else actor.name,
        )
        return reached

    async def record_department_reply(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        department: Department,
        text: str,
        actor: Actor,
        *,
        done: bool = False,
    ) -> None:
        """A department's answer: on the timeline, to the accountable worker, to the resident."""
        next_status(ticket.status, Move.DEPARTMENT_REPLY)
        await self.moves.apply(
            uow,
            ticket,
            Move.DEPARTMENT_REPLY,
            actor,
            note=text,
            data={"department_id": department.id, "department": department.name, "done": done},
        )
        if done:
            for party in await uow.departments.parties(ticket.id or 0):
                if party.department_id == department.id:
                    party.status = "done"
                    party.done_at = self.clock.now()
                    await uow.departments.save_party(party)
        note = text or ("已处理完毕" if done else "-")
        if ticket.assignee_id:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "worker.department_done" if done else "worker.department_reply",
                    ticket.number,
                    department=department.name,
                    note=note,
                    status=ticket.status,
                ),
                ticket,
            )
        await self.notify.push_resident(
            uow,
            ticket,
            "department_done" if done else "department_reply",
            department=department.name,
            note=note,
        )

    async def register(
        self,
        uow: UnitOfWork,
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
        department = await uow.departments.add(
            Department(
                community_id=community_id,
                name=name,
                kind=str(kind),
                aliases=list(aliases),
                phone=phone,
                created_at=self.clock.now(),
            )
        )
        for priority, (channel, user_id, contact_name) in enumerate(contacts):
            await uow.departments.add_contact(
                DepartmentContact(
                    department_id=department.id or 0,
                    channel=channel,
                    user_id=user_id,
                    name=contact_name,
                    priority=priority,
                    created_at=self.clock.now(),
                )
            )
        return department
