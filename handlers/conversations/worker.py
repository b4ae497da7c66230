"""The grid worker's conversation: commands on their tasks (接单, 进展, 办结, 转派, 移交 …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers.conversations.context import task_line
from handlers.conversations.patrol import file_patrol
from handlers.conversations.staff_notices import publish_from_chat
from handlers.departments import resolve_department, suggested
from handlers.dialogue import DialogueState, ticket_numbers
from handlers.dialogue.words import CANCEL_WORDS, word_key
from handlers.errors import InvalidInput, InvalidTransition
from handlers.flows import flow_for_category
from handlers.i18n import locale_of, t, worker_status_text
from handlers.lifecycle import Actor, Move, is_open, is_waiting, next_status
from handlers.messages import Button, Inbound, MediaKind, Outbound
from handlers.notice_service import NoticeService
from handlers.notices import task_buttons, worker_notice
from handlers.people_service import PeopleService, worker_reply
from handlers.routing import route_to_target
from handlers.ticket_service import TicketService, department_ref
from handlers.worker import (
    ACTION_NAMES,
    NEEDS_NOTE,
    YES_WORDS,
    Command,
    WorkerCommand,
    free_text_command,
    parse_button,
    parse_command,
)
from nlu.types import Parse
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket

STREET_COMMANDS = (Command.SEND_BACK, Command.FORWARD_CITY)


def _street_refusal(
    worker: GridWorker, ticket: Ticket, action: str, locale: str
) -> Outbound | None:
    """Why a street command cannot run here: not street staff, or the ticket is not with the
    street (None: it may)."""
    if worker.role != "street_staff":
        return Outbound(text=t("worker.street_only", locale, command=action))
    if ticket.tier != "street":
        status = worker_status_text(ticket.status, locale)
        return Outbound(
            text=t(
                "worker.not_with_street",
                locale,
                number=ticket.number,
                status=status,
                command=action,
            )
        )
    return None


class WorkerConversation:
    """Grid workers (and leaders, staff) act on tickets in chat or with a task card's buttons.

    Args:
        tickets: the ticket operations the commands run on.
    """

    def __init__(
        self,
        tickets: TicketService,
        notices: NoticeService | None = None,
        people: PeopleService | None = None,
    ) -> None:
        self.tickets = tickets
        self.notices = notices or NoticeService(tickets.store, tickets.clock)
        self.people = people or PeopleService(tickets.store, tickets.clock, tickets)

    async def turn(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        msg: Inbound,
        state: DialogueState,
        parse: Parse | None = None,
    ) -> tuple[list[Outbound], DialogueState]:
        """One message from an active grid worker: a command, a button, or a note.

        Args:
            uow: the message's unit of work (the caller commits it).
            worker: the worker the sender's identity is bound to.
            msg: the message.
            state: the conversation state (``worker_pending`` holds a command awaiting its note).
            parse: the NLU parse of the text (a 随手拍 report's category).

        Returns:
            The replies and the new state.
        """
        locale = locale_of(msg.locale)
        text = msg.text.strip()
        photos = await self._fresh_photos(uow, msg)
        # a message written as a reply to a task card (Telegram) is about that card's ticket
        card_number = await self._card_number(uow, msg)
        command: WorkerCommand | None = None
        held = _held(state)  # a free sentence read as resolve/progress, awaiting "确认"
        if held is not None:
            state.worker_pending = None
            if msg.button in (CONFIRM, AS_PROGRESS) or (
                not msg.button and word_key(text) in YES_WORDS
            ):
                progress = msg.button == AS_PROGRESS
                command = replace(held, command=Command.PROGRESS) if progress else held
            elif not msg.button and word_key(text) in CANCEL_WORDS:
                return [Outbound(text=t("worker.cancelled", locale))], state
        if command is None and msg.button:
            command = parse_button(msg.button)
        elif command is None and (text or photos):
            note = text or t("worker.photo_note", locale)
            command = parse_command(text) if text else None
            typed = command  # what the words say, before it is read as a note
            if command is not None and command.command == Command.NOTICE and not _publishes(worker):
                command = None  # "通知 物业…" from a grid worker is a note, not a notice
            if (
                command is not None
                and command.command in STREET_COMMANDS
                and command.number is None
                and worker.role != "street_staff"
            ):
                command = None  # "退回了押金" replying to a card is a note, not a street command
            pending = parse_button(state.worker_pending) if state.worker_pending else None
            if command is None and not photos and word_key(text) in CANCEL_WORDS:
                # "取消" is never a note: it drops the command waiting for one (or says none waits)
                state.worker_pending = None
                key = "worker.cancelled" if pending is not None else "worker.nothing_to_cancel"
                return [Outbound(text=t(key, locale))], state
            if command is None and pending is not None and card_number in (None, pending.number):
                command = replace(pending, note=note)
            elif command is None and card_number is not None:
                command = WorkerCommand(Command.PROGRESS, card_number, note)
            elif command is not None and command.number is None and card_number is not None:
                command = replace(command, number=card_number)
            if command is None and pending is None and card_number is None and typed is not None:
                if typed.command == Command.NOTICE:  # "通知 5幢 …" from a grid worker
                    return [Outbound(text=t("worker.notice_not_staff", locale))], state
            elif command is None and pending is None and not photos:
                guess = free_text_command(text)
                if guess is not None:
                    return await self._free_sentence(uow, worker, text, guess, state, locale)
        state.worker_pending = None
        if command is None:
            if msg.media:
                return [Outbound(text=t("worker.help", locale))], state
            reply = t("worker.unknown", locale, text=text[:30]) if text else ""
            return [Outbound(text=f"{reply}\n{t('worker.help', locale)}".strip())], state
        if command.command == Command.HELP:
            extra = f"\n{t('worker.street_help', locale)}" if worker.role == "street_staff" else ""
            return [Outbound(text=t("worker.help", locale) + extra)], state
        tasks = list(await uow.tickets.for_worker(worker.id or 0))
        if command.command == Command.TASKS:
            return [await self._task_list(uow, worker, tasks, locale)], state
        if command.command == Command.MERGE:
            return [await self._merge_command(uow, worker, command, locale)], state
        if command.command == Command.PATROL:
            filed = await file_patrol(
                uow, self.tickets, worker, command.note, photos, parse, locale
            )
            return [filed], state
        if command.command == Command.NOTICE:
            if not _publishes(worker):
                return [Outbound(text=t("worker.not_staff", locale))], state
            published = await publish_from_chat(uow, self.notices, worker, command.note, locale)
            return [published], state
        ticket: Ticket | None
        if command.number:
            ticket = await uow.tickets.by_number(command.number, for_update=True)
            if ticket is None:
                return [Outbound(text=t("worker.not_found", locale, number=command.number))], state
            if not await self.tickets.may_act(uow, worker, ticket):
                return [Outbound(text=t("worker.not_yours", locale, number=command.number))], state
        elif command.command in STREET_COMMANDS:
            # a referred ticket stays with its assignee: the street names it (or replies to it)
            word = ACTION_NAMES[command.command][locale if locale in ("zh", "en") else "zh"]
            return [Outbound(text=t("worker.street_number", locale, command=word))], state
        else:
            if not tasks:
                return [Outbound(text=t("worker.no_tasks", locale))], state
            if len(tasks) > 1:
                return [_which("worker.which", command.command, tasks, locale)], state
            ticket = await uow.tickets.lock(tasks[0].id or 0)
            if ticket is None:  # pragma: no cover - just listed
                return [Outbound(text=t("worker.no_tasks", locale))], state
        return await self._worker_command(uow, worker, ticket, command, state, locale, photos)

    async def _free_sentence(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        text: str,
        guess: Command,
        state: DialogueState,
        locale: str,
    ) -> tuple[list[Outbound], DialogueState]:
        """A sentence instead of a command: "收到" accepts the one ticket waiting; words of a
        finished job or of work under way are confirmed first (they go to the resident)."""
        tasks = list(await uow.tickets.for_worker(worker.id or 0))
        if guess == Command.ACCEPT:
            candidates = [tk for tk in tasks if is_waiting(tk.status)]
            if not candidates:  # "好的" with nothing to accept: what they have, not an error
                return [await self._task_list(uow, worker, tasks, locale)], state
        else:
            candidates = [tk for tk in tasks if is_open(tk.status)]
            if not candidates:
                return [Outbound(text=t("worker.no_tasks", locale))], state
        if len(candidates) > 1:
            return [_which("worker.which_free", guess, candidates, locale)], state
        word = ACTION_NAMES[guess][locale if locale in ("zh", "en") else "zh"]
        ticket = await uow.tickets.lock(candidates[0].id or 0)
        if ticket is None:  # pragma: no cover - just listed
            return [Outbound(text=t("worker.no_tasks", locale))], state
        if guess == Command.ACCEPT:
            command = WorkerCommand(Command.ACCEPT, ticket.number)
            return await self._worker_command(uow, worker, ticket, command, state, locale)
        if guess == Command.TRANSFER:
            return [await self._transfer_options(uow, worker, ticket, locale)], state
        state.worker_pending = f"{_HELD}{guess.value}:{ticket.number}:{text}"
        buttons = [Button(t("worker.button.confirm_free", locale, action=word), CONFIRM)]
        if guess == Command.RESOLVE:
            buttons.append(Button(t("worker.button.as_progress", locale), AS_PROGRESS))
        buttons.append(Button(t("button.cancel", locale), "tasks"))
        ask = t(
            "worker.confirm_free",
            locale,
            number=ticket.number,
            action=word,
            task=task_line(ticket, locale),
            note=text,
        )
        return [Outbound(text=ask, buttons=tuple(buttons))], state

    async def _card_number(self, uow: UnitOfWork, msg: Inbound) -> str | None:
        """The ticket number of the task card this message replies to, if it is one."""
        if not msg.reply_to:
            return None
        card = await uow.cards.for_message(msg.channel, msg.user_id, msg.reply_to)
        if card is None:
            return None
        ticket = await uow.tickets.get(card.ticket_id)
        return ticket.number if ticket else None

    async def _apply_with_photos(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        move: Move,
        actor: Actor,
        note: str,
        photos: tuple[int, ...],
    ) -> None:
        """A worker's move; photos of the work done join the ticket's record and its event."""
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        await self.tickets.apply(
            uow, ticket, move, actor, note=note, data={"photos": list(photos)} if photos else None
        )

    async def _fresh_photos(self, uow: UnitOfWork, msg: Inbound) -> tuple[int, ...]:
        """Photos sent with this message that belong to no ticket yet (never another's)."""
        ids: list[int] = []
        for media in msg.media:
            ref = media.ref.removeprefix("attachment:")
            if media.kind != MediaKind.IMAGE or not media.ref.startswith("attachment:"):
                continue
            if not ref.isdigit():
                continue
            item = await uow.attachments.get(int(ref))
            if item is not None and item.ticket_id is None:
                ids.append(int(ref))
        return tuple(ids)

    async def _task_list(
        self, uow: UnitOfWork, worker: GridWorker, tasks: Sequence[Ticket], locale: str
    ) -> Outbound:
        supervised: list[Ticket] = []
        if worker.role in ("grid_leader", "community_staff"):
            # escalated tickets stay with their assignee; a supervisor sees them here
            escalated = await uow.finder.escalated(worker.community_id, statuses=("escalated",))
            supervised = [
                ticket
                for ticket in await self.tickets.supervised(uow, worker, escalated)
                if ticket.assignee_id != worker.id
            ]
        if not tasks and not supervised:
            return Outbound(text=t("worker.no_tasks", locale))
        lines: list[str] = []
        if tasks:
            lines.append(t("worker.tasks", locale))
            lines += [task_line(ticket, locale) for ticket in tasks]
        if supervised:
            lines.append(t("worker.supervised", locale))
            lines += [task_line(ticket, locale) for ticket in supervised]
        return Outbound(text="\n".join(lines))

    async def _worker_command(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        ticket: Ticket,
        command: WorkerCommand,
        state: DialogueState,
        locale: str,
        photos: tuple[int, ...] = (),
    ) -> tuple[list[Outbound], DialogueState]:
        number = ticket.number
        actor = Actor.worker(worker.id, worker.name)
        action_name = ACTION_NAMES.get(command.command, {}).get(locale, command.command.value)
        if command.command in STREET_COMMANDS:
            refused = _street_refusal(worker, ticket, action_name, locale)
            if refused is not None:
                return [refused], state
            if command.command == Command.FORWARD_CITY:
                # the resident's consent to share their contact is confirmed on the ticket page
                return [Outbound(text=t("worker.forward_in_console", locale, number=number))], state
        if command.command == Command.CONTACT:
            phone = ticket.contact_phone or t("confirm.no_phone", locale)
            return [Outbound(text=t("worker.contact", locale, number=number, phone=phone))], state
        if command.command in NEEDS_NOTE and not command.note and not is_open(ticket.status):
            # a closed ticket: refuse now, not after offering choices that cannot be taken
            status = worker_status_text(ticket.status, locale)
            bad = t("worker.bad_state", locale, number=number, status=status, action=action_name)
            return [Outbound(text=bad)], state
        if command.command in NEEDS_NOTE and not command.note:
            if command.command == Command.TRANSFER:
                return [await self._transfer_options(uow, worker, ticket, locale)], state
            if command.command in (Command.HANDOFF, Command.COHANDLE):
                return [await self._department_options(uow, ticket, command.command, locale)], state
            state.worker_pending = f"{command.command.value}:{number}"
            return [
                Outbound(
                    text=t("worker.ask_note", locale, number=number, action=action_name),
                    buttons=(Button(t("button.cancel", locale), "tasks"),),
                )
            ], state
        if command.command in (Command.HELPER_VERIFY, Command.HELPER_ASSIST):
            purpose = "verify" if command.command == Command.HELPER_VERIFY else "assist"
            try:
                done = await self.people.ask_on_ticket(
                    uow, ticket, purpose, actor, note=command.note
                )
            except InvalidInput as e:
                return [Outbound(text=str(e))], state
            return [
                Outbound(
                    text=worker_reply(ticket, purpose, done, locale),
                    buttons=task_buttons(number, locale, ticket.status)
                    if is_open(ticket.status)
                    else (),
                )
            ], state
        try:
            if command.command in (Command.CALLED, Command.UNREACHABLE):
                reached = command.command == Command.CALLED
                at = await self.tickets.record_callback(uow, ticket, actor, reached=reached)
                key = "worker.called_ok" if reached else "worker.unreachable_ok"
                return [
                    Outbound(
                        text=t(key, locale, number=number, time=at),
                        buttons=task_buttons(number, locale, ticket.status),
                    )
                ], state
            if command.command == Command.ACCEPT:
                await self.tickets.accept(uow, ticket, worker, actor)
                phone = ticket.contact_phone or t("confirm.no_phone", locale)
                return [
                    Outbound(
                        text=t("worker.accepted", locale, number=number, phone=phone),
                        buttons=worker_notice(
                            "worker.accepted", number, locale, phone=phone, status=ticket.status
                        ).buttons,
                    )
                ], state
            if command.command == Command.PROGRESS:
                if is_waiting(ticket.status):
                    await self.tickets.accept(uow, ticket, worker, actor)
                await self._apply_with_photos(
                    uow, ticket, Move.PROGRESS, actor, command.note, photos
                )
                await self.tickets.push_resident(
                    uow, ticket, "progress", photos=photos, note=command.note
                )
                return [Outbound(text=t("worker.progress_ok", locale, number=number))], state
            if command.command == Command.RESOLVE:
                if is_waiting(ticket.status):
                    await self.tickets.accept(uow, ticket, worker, actor)
                await self._apply_with_photos(
                    uow, ticket, Move.RESOLVE, actor, command.note, photos
                )
                await self.tickets.push_resident(
                    uow, ticket, "resolved", photos=photos, note=command.note
                )
                return [Outbound(text=t("worker.resolved_ok", locale, number=number))], state
            if command.command == Command.TRANSFER:
                return await self._transfer(uow, worker, ticket, command.note, locale), state
            if command.command == Command.SEND_BACK:
                told = await self.tickets.street.send_back(
                    uow, ticket, actor, instruction=command.note
                )
                text = t(
                    "worker.sent_back_ok", locale, number=number, count=len(told), note=command.note
                )
                return [Outbound(text=text)], state
            if command.command in (Command.HANDOFF, Command.COHANDLE):
                return [await self._hand_off(uow, worker, ticket, command, locale)], state
        except InvalidTransition:
            return [
                Outbound(
                    text=t(
                        "worker.bad_state",
                        locale,
                        number=number,
                        status=worker_status_text(ticket.status, locale),
                        action=action_name,
                    )
                )
            ], state
        return [Outbound(text=t("worker.help", locale))], state  # pragma: no cover

    async def _department_options(
        self, uow: UnitOfWork, ticket: Ticket, command: Command, locale: str
    ) -> Outbound:
        rows = await uow.departments.for_community(ticket.community_id)
        if not rows:
            return Outbound(text=t("worker.department_none", locale))
        flow = flow_for_category(ticket.category)
        ordered = suggested(
            [department_ref(d) for d in rows],
            flow.departments if flow else (),
            community_id=ticket.community_id,
        )
        action = ACTION_NAMES[command].get(locale, command.value)
        return Outbound(
            text=t("worker.ask_department", locale, number=ticket.number, action=action),
            buttons=tuple(
                Button(d.name, f"{command.value}:{ticket.number}:{d.name}") for d in ordered[:10]
            ),
        )

    async def _hand_off(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        ticket: Ticket,
        command: WorkerCommand,
        locale: str,
    ) -> Outbound:
        rows = await uow.departments.for_community(ticket.community_id)
        refs = [department_ref(d) for d in rows]
        target, _, note = command.note.partition(" ")
        ref = resolve_department(target, refs, community_id=ticket.community_id)
        if ref is None:
            ref = resolve_department(command.note, refs, community_id=ticket.community_id)
            note = ""
        if ref is None:
            if not refs:
                return Outbound(text=t("worker.department_none", locale))
            return Outbound(
                text=t(
                    "worker.department_unknown",
                    locale,
                    target=command.note,
                    options="、".join(d.name for d in refs),
                )
            )
        department = next(d for d in rows if d.id == ref.id)
        cohandler = command.command == Command.COHANDLE
        actor = Actor.worker(worker.id, worker.name)
        if is_waiting(ticket.status) and not cohandler:
            # handing it on is working on it: the worker accepts first, like a progress note
            await self.tickets.accept(uow, ticket, worker, actor)
        reached = await self.tickets.involve_department(
            uow, ticket, department, actor, note=note.strip(), cohandler=cohandler
        )
        key = "worker.cohandle_ok" if cohandler else "worker.handoff_ok"
        text = t(key, locale, number=ticket.number, department=department.name)
        if not reached:
            text += t(
                "worker.department_offline",
                locale,
                department=department.name,
                phone=department.phone or "-",
            )
        return Outbound(text=text, buttons=task_buttons(ticket.number, locale, ticket.status))

    async def _merge_command(
        self, uow: UnitOfWork, worker: GridWorker, command: WorkerCommand, locale: str
    ) -> Outbound:
        others = ticket_numbers(command.note)
        if not command.number or not others:
            return Outbound(text=t("worker.merge_usage", locale))
        if worker.role not in ("grid_leader", "community_staff"):
            return Outbound(text=t("worker.not_staff", locale))
        into = others[0]
        if into == command.number:
            return Outbound(text=t("worker.merge_same", locale))
        locked: dict[str, Ticket] = {}
        for number in sorted({command.number, into}):  # fixed lock order
            found = await uow.tickets.by_number(number, for_update=True)
            if found is None:
                return Outbound(text=t("worker.not_found", locale, number=number))
            if not await self.tickets.may_act(uow, worker, found):
                return Outbound(text=t("worker.not_yours", locale, number=number))
            locked[number] = found
        source, target = locked[command.number], locked[into]
        reason = command.note.replace(into, "").strip() or t(
            "worker.merge_ok", "zh", source=source.number, target=target.number
        )
        try:
            await self.tickets.merge_tickets(
                uow, source, target, Actor.worker(worker.id, worker.name), reason
            )
        except InvalidTransition:
            bad = source if not is_open(source.status) else target
            return Outbound(
                text=t(
                    "worker.bad_state",
                    locale,
                    number=bad.number,
                    status=worker_status_text(bad.status, locale),
                    action=ACTION_NAMES[Command.MERGE].get(locale, "merge"),
                )
            )
        return Outbound(
            text=t("worker.merge_ok", locale, source=source.number, target=target.number)
        )

    async def _transfer_options(
        self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket, locale: str
    ) -> Outbound:
        snapshot = await self.tickets.snapshot(uow)
        buttons = [
            Button(g.name, f"transfer:{ticket.number}:{g.name}")
            for g in snapshot.grids.values()
            if g.community_id == ticket.community_id and g.id != ticket.grid_id
        ]
        buttons += [
            Button(w.name, f"transfer:{ticket.number}:{w.name}")
            for w in snapshot.workers
            if w.community_id == ticket.community_id and w.id != worker.id and w.active
        ]
        return Outbound(
            text=t("worker.ask_transfer", locale, number=ticket.number),
            buttons=tuple(buttons[:12]),
        )

    async def _transfer(
        self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket, target: str, locale: str
    ) -> list[Outbound]:
        snapshot = await self.tickets.snapshot(uow)
        grids, workers = snapshot.grids, snapshot.workers
        decision = route_to_target(
            target,
            community_id=ticket.community_id,
            grids=grids,
            workers=workers,
            exclude=frozenset({worker.id or 0}),
        )
        if decision is None:
            options = "、".join(
                [g.name for g in grids.values() if g.community_id == ticket.community_id]
                + [
                    w.name
                    for w in workers
                    if w.community_id == ticket.community_id and w.id != worker.id
                ]
            )
            return [
                Outbound(text=t("worker.transfer_unknown", locale, target=target, options=options))
            ]
        if decision.worker is None:
            return [Outbound(text=t("worker.transfer_none", locale, target=target))]
        next_status(ticket.status, Move.TRANSFER)  # refuse before changing the grid
        if decision.grid_id is not None:
            ticket.grid_id = decision.grid_id
        prefix = t("worker.transferred_in", "zh", number=ticket.number, source=worker.name)
        await self.tickets.assign(
            uow,
            ticket,
            decision.worker,
            decision.reason,
            actor=Actor.worker(worker.id, worker.name),
            move=Move.TRANSFER,
            prefix=prefix,
        )
        target_name = decision.worker.name
        await self.tickets.push_resident(uow, ticket, "transferred", target=f"网格员{target_name}")
        return [
            Outbound(
                text=t("worker.transferred_ok", locale, number=ticket.number, target=target_name)
            )
        ]


def _which(key: str, command: Command, tasks: Sequence[Ticket], locale: str) -> Outbound:
    """Several tickets could be meant: one button per ticket (at most 8) to run ``command``."""
    word = ACTION_NAMES.get(command, {}).get(locale, command.value)
    return Outbound(
        text=t(key, locale, count=len(tasks), command=word, number=tasks[0].number),
        buttons=tuple(
            Button(f"{word} {tk.number}", f"{command.value}:{tk.number}") for tk in tasks[:8]
        ),
    )


_HELD = "confirm|"  # worker_pending of a free sentence awaiting confirmation
CONFIRM, AS_PROGRESS = "pending:yes", "pending:progress"


def _held(state: DialogueState) -> WorkerCommand | None:
    """The resolve/progress a free sentence was read as, while it waits for "确认"."""
    pending = state.worker_pending or ""
    return parse_button(pending.removeprefix(_HELD)) if pending.startswith(_HELD) else None


def _publishes(worker: GridWorker) -> bool:
    """Leaders and staff publish notices (where, the permission model decides)."""
    return worker.role in ("grid_leader", "community_staff")
