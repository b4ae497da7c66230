"""The resident's conversation: the dialogue policy, then the actions it asks for."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from typing import Any, assert_never

from handlers.address import BuildingRef, resolve_building
from handlers.conversations.context import Registry
from handlers.dialogue import (
    Action,
    AddContactPhone,
    AddSupplement,
    CreateTicket,
    DialogueConfig,
    DialogueState,
    FollowTicket,
    HandToStaff,
    RateTicket,
    RequestCallback,
    ResidentContext,
    SetNotices,
    Stage,
    TicketBrief,
    WithdrawTicket,
    mask_phone,
    offer_duplicate,
    step,
)
from handlers.flows import category_label
from handlers.handoff_service import end_button, open_handoff, promise_text, resident_turn
from handlers.i18n import locale_of, status_text, t
from handlers.lifecycle import OPEN_STATUSES, Actor, is_open
from handlers.messages import Inbound, Outbound
from handlers.notice_service import NoticeService
from handlers.notices import LOCAL_TZ, local_time, task_buttons, worker_notice
from handlers.people import asks_for_people, building_mention, link_code_in, phone_link_in
from handlers.people_service import PeopleService, parse_helper_payload
from handlers.ports import Clock
from handlers.routing import route
from handlers.sla import ClockKind, duration_text
from handlers.throttle_service import RateLimits
from handlers.ticket_service import PUBLIC_NOTE_KINDS, TicketService, facts_of
from nlu.types import Parse
from storage.interfaces import UnitOfWork
from storage.models import Resident, Ticket


class ResidentConversation:
    """Residents report, follow, add to and rate tickets through the dialogue policy.

    Args:
        tickets: the ticket operations the dialogue's actions run on.
        clock: the time source.
    """

    def __init__(
        self,
        tickets: TicketService,
        clock: Clock,
        rates: RateLimits | None = None,
        notices: NoticeService | None = None,
        people: PeopleService | None = None,
    ) -> None:
        self.tickets = tickets
        self.clock = clock
        self.rates = rates
        self.notices = notices or NoticeService(tickets.store, clock)
        self.people = people or PeopleService(tickets.store, clock, tickets)

    async def turn(
        self,
        uow: UnitOfWork,
        msg: Inbound,
        parse: Parse | None,
        state: DialogueState,
        registry: Registry,
        dialogue: DialogueConfig,
    ) -> tuple[list[Outbound], DialogueState]:
        """One resident message: load their context, step the dialogue, run its actions.

        Args:
            uow: the message's unit of work (the caller commits it).
            msg: the message.
            parse: the NLU parse of its text (None without text).
            state: the conversation state, loaded inside the conversation lock.
            registry: the buildings the dialogue resolves places against.
            dialogue: the flows and thresholds for this turn.

        Returns:
            The replies (those of the dialogue, then those of its actions) and the new state.
        """
        now = self.clock.now()
        resident, _identity = await uow.registry.ensure_resident(
            msg.channel, msg.user_id, locale=locale_of(msg.locale), now=now
        )
        if msg.locale and locale_of(msg.locale) != resident.locale:
            resident.locale = locale_of(msg.locale)
            await uow.registry.save(resident)
        handoff = await uow.handoffs.open_for(msg.channel, msg.user_id)
        staff_side: list[Outbound] = []
        if handoff is not None:  # a person is (about to be) answering: the bot stays out …
            staff_side = await resident_turn(uow, handoff, msg, now, resident.locale)
            if parse is None or not parse.urgent:
                return staff_side, state
            # … except for a danger: it never waits for a person. Staff read it in the
            # conversation; the bot advises and files the urgent ticket at once.
        if parse is None or not parse.urgent:  # a danger always goes to the dialogue first
            people = await self._people_turn(uow, msg, resident, registry)
            if people is not None:
                return [*staff_side, people], state
        msg = await self._apply_scene(msg, registry, state)
        ctx = await self._context(uow, resident, registry, now, msg)
        turn = step(state, msg, parse, ctx, dialogue)
        replies = list(turn.replies)
        if staff_side:
            turn.after.extend(staff_side)
        for action in turn.actions:
            replies += await self._run(uow, action, resident, msg, turn.state)
        replies += turn.after
        return replies, turn.state

    async def _people_turn(
        self, uow: UnitOfWork, msg: Inbound, resident: Resident, registry: Registry
    ) -> Outbound | None:
        """A building head's answer (已恢复 / 未恢复 …), a link code ("绑定 1234 5678"), or
        "我的网格员": answered here, the conversation (a form in progress) left as it was."""
        if msg.button:
            asked = parse_helper_payload(msg.button)
            if asked is None:
                return None
            return await self.people.answer(uow, resident, *asked)
        code = link_code_in(msg.text)
        if code is not None:
            return await self.people.link(uow, resident, msg.channel, msg.user_id, code)
        phone = phone_link_in(msg.text)
        if phone is not None:
            return await self.people.ask_phone_code(uow, resident, phone)
        if asks_for_people(msg.text):
            return await self.people.who_answer(uow, resident, msg.text, registry.buildings)
        return None

    async def _apply_scene(self, msg: Inbound, registry: Registry, state: DialogueState) -> Inbound:
        """A stairwell QR code names a building: start a report with the building known."""
        if not msg.scene or not msg.scene.startswith("building:"):
            return msg
        ident = msg.scene.removeprefix("building:")
        building = registry.buildings.by_id(int(ident)) if ident.isdigit() else None
        if building is None:
            return msg
        # a fresh report: nothing of an older conversation (nor its age) carries over
        state.updated_at = None
        state.candidates = []
        state.urgent = state.editing = False
        state.retries = 0
        state.ticket = None
        state.stage = Stage.FILLING
        state.flow = None
        state.asking = "description"
        state.slots = {
            "building": str(building.id),
            "building_id": str(building.id),
            "building_name": building.display(),
        }
        return replace(msg, scene=None)

    async def _context(
        self,
        uow: UnitOfWork,
        resident: Resident,
        registry: Registry,
        now: datetime,
        msg: Inbound,
    ) -> ResidentContext:
        home = None
        if resident.building_id is not None:
            home = registry.buildings.by_id(resident.building_id)
        open_rows, resolved = await uow.tickets.for_resident_by_groups(
            resident.id or 0, (OPEN_STATUSES, ("resolved",))
        )
        followed = await uow.followers.followed_tickets(
            msg.channel, msg.user_id, statuses=OPEN_STATUSES
        )
        locale = resident.locale
        # "5幢最近有没有停水通知" / "5幢家里停水了": the notices of the building named
        named = self._named_building(resident, registry, msg.text or "")
        notices = await self.notices.active_for(
            uow,
            building_id=named.id if named else resident.building_id,
            community_id=resident.community_id,
        )
        return ResidentContext(
            now=now,
            locale=locale,
            phone=resident.phone,
            home=home,
            unit=resident.unit,
            room=resident.room,
            community_id=resident.community_id,
            buildings=registry.buildings,
            open_tickets=tuple([await self._brief(uow, tk, locale) for tk in open_rows]),
            awaiting_rating=tuple([await self._brief(uow, tk, locale) for tk in resolved]),
            followed_tickets=tuple([await self._brief(uow, tk, locale) for tk in followed]),
            notices=tuple(notices),
            notice_place=named.display() if named else "",
        )

    @staticmethod
    def _named_building(resident: Resident, registry: Registry, text: str) -> BuildingRef | None:
        """The one registered building the message names (as "我的网格员" reads it), if any."""
        mention = building_mention(text)
        if not mention:
            return None
        found = resolve_building(mention, registry.buildings, community_id=resident.community_id)
        return found[0] if len(found) == 1 else None

    async def _brief(self, uow: UnitOfWork, ticket: Ticket, locale: str) -> TicketBrief:
        events = await uow.tickets.events(ticket.id or 0)
        notes = [e.note for e in events if e.kind in PUBLIC_NOTE_KINDS and e.note]
        return TicketBrief(
            number=ticket.number,
            category=ticket.category,
            status=ticket.status,
            location=facts_of(ticket).location(locale),
            priority=ticket.priority,
            last_note=notes[-1] if notes else "",
        )

    async def _run(
        self,
        uow: UnitOfWork,
        action: Action,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        if isinstance(action, CreateTicket):
            return await self._create_ticket(uow, action, resident, msg, state)
        if isinstance(action, RateTicket):
            return await self._rate(uow, action, resident)
        if isinstance(action, AddContactPhone):
            return await self._add_phone(uow, action, resident)
        if isinstance(action, RequestCallback):
            return await self._callback(uow, action, resident, msg)
        if isinstance(action, HandToStaff):
            return await self._hand_to_staff(uow, action, resident, msg)
        if isinstance(action, FollowTicket):
            return await self._follow(uow, action, resident, msg, state)
        if isinstance(action, AddSupplement):
            return await self._supplement(uow, action, resident, msg, state)
        if isinstance(action, WithdrawTicket):
            return await self._withdraw(uow, action, resident)
        if isinstance(action, SetNotices):
            await self.notices.set_subscription(uow, resident.id or 0, on=action.on)
            return [Outbound(text=t("notice.on" if action.on else "notice.off", resident.locale))]
        assert_never(action)

    async def _withdraw(
        self, uow: UnitOfWork, action: WithdrawTicket, resident: Resident
    ) -> list[Outbound]:
        locale = resident.locale
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or ticket.resident_id != resident.id:
            return [Outbound(text=t("withdraw.not_found", locale, number=action.number))]
        if not is_open(ticket.status):
            status = status_text(ticket.status, locale)
            return [
                Outbound(text=t("withdraw.not_open", locale, number=ticket.number, status=status))
            ]
        await self.tickets.withdraw(uow, ticket, Actor.resident(resident.id), action.reason)
        category = category_label(ticket.category, locale)
        return [
            Outbound(
                text=t("withdraw.done", locale, number=ticket.number, category=category),
                kind="withdrawn",
                data={"number": ticket.number},
            )
        ]

    async def _create_ticket(
        self,
        uow: UnitOfWork,
        action: CreateTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        now = self.clock.now()
        locale = resident.locale
        building = await uow.registry.building(action.building_id) if action.building_id else None
        community_id = building.community_id if building else resident.community_id
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if len(communities) == 1 else None
        duplicate = await self.tickets.find_duplicate(
            uow,
            category=action.category,
            community_id=community_id,
            building_id=building.id if building else None,
            latitude=action.latitude,
            longitude=action.longitude,
            channel=msg.channel,
            user_id=msg.user_id,
        )
        if duplicate is not None and not action.allow_duplicate and action.priority != "urgent":
            # hold the report and ask: follow the open ticket, or report anyway
            offer = offer_duplicate(
                state,
                action,
                number=duplicate.ticket.number,
                status=status_text(duplicate.ticket.status, locale),
                own=duplicate.own,
                locale=locale,
            )
            return [offer]
        if self.rates is not None:
            wait = await self.rates.allow("ticket", f"{msg.channel}:{msg.user_id}", msg.origin)
            if wait > 0:
                minutes = max(1, math.ceil(wait / 60))
                return [Outbound(text=t("rate.ticket", locale, minutes=minutes))]
        number = await uow.tickets.next_number(now.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
        extra: dict[str, Any] = dict(action.extra)
        extra.update(nlu_intent=action.nlu_intent, nlu_confidence=round(action.nlu_confidence, 4))
        prefix = ""
        if duplicate is not None:
            # urgent reports are never held back by a question; staff can merge them later
            extra["possible_duplicate_of"] = duplicate.ticket.number
            prefix = t("task.possible_duplicate", "zh", number=duplicate.ticket.number)
        ticket = Ticket(
            number=number,
            community_id=community_id,
            category=action.category,
            priority=action.priority,
            status="submitted",
            description=action.description,
            building_id=building.id if building else None,
            building_name=building.name if building else "",
            unit=action.unit,
            room=action.room,
            location_note=action.location_note,
            latitude=action.latitude,
            longitude=action.longitude,
            grid_id=building.grid_id if building else None,
            resident_id=resident.id,
            channel=msg.channel,
            channel_user_id=msg.user_id,
            # unique per channel: a message processed twice can never file a second ticket
            source_message_id=msg.message_id[:128],
            contact_phone=action.phone,
            extra=extra,
            created_at=now,
            updated_at=now,
        )
        # remember what the resident told us, so the next report asks less
        if action.phone:
            resident.phone = action.phone
        if building is not None:
            resident.building_id = building.id
            resident.community_id = building.community_id
            resident.unit = action.unit or resident.unit
            resident.room = action.room or resident.room
        elif community_id is not None and resident.community_id is None:
            resident.community_id = community_id
        await uow.registry.save(resident)
        assignee = await self.tickets.file(
            uow,
            ticket,
            actor=Actor.resident(resident.id),
            photos=action.photos,
            card_prefix=prefix,
        )
        if action.followup_phone:
            state.ticket = number
        category = category_label(ticket.category, locale)
        if assignee is None:
            return [
                Outbound(text=t("created.unassigned", locale, number=number, category=category))
            ]
        grid = await uow.registry.grid(assignee.grid_id) if assignee.grid_id else None
        who = t("assignee.worker", locale, grid=grid.name if grid else "", name=assignee.name)
        promise = await self._promise(uow, ticket, locale)
        return [
            Outbound(
                text=t(
                    "created",
                    locale,
                    number=number,
                    category=category,
                    assignee=who,
                    promise=promise,
                ),
                kind="ticket_created",
                data={"number": number, "category": ticket.category, "priority": ticket.priority},
            )
        ]

    async def _promise(self, uow: UnitOfWork, ticket: Ticket, locale: str) -> str:
        """When the worker will call back (the call-back clock), else the general promise."""
        clocks = await uow.clocks.for_ticket(ticket.id or 0, status="pending")
        due = [c for c in clocks if c.kind == ClockKind.CALLBACK.value]
        if due:
            first = min(due, key=lambda c: c.due_at)
            at = first.due_at.astimezone(LOCAL_TZ)
            today = self.clock.now().astimezone(LOCAL_TZ).date()
            # outside office hours the promise moves to the next working time: say the day
            when = at.strftime("%H:%M" if at.date() == today else "%m-%d %H:%M")
            # only a ticket with a phone has the clock: without one there is no call to promise
            return t(
                "promise.callback",
                locale,
                time=when,
                span=duration_text(first.target_seconds, locale),
            )
        return t("promise.urgent" if ticket.priority == "urgent" else "promise.normal", locale)

    async def _file_instead(
        self,
        uow: UnitOfWork,
        number: str,
        fallback: CreateTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        """The ticket to follow or add to closed meanwhile: file the held report after all."""
        filed = await self._create_ticket(
            uow, replace(fallback, allow_duplicate=True), resident, msg, state
        )
        return [Outbound(text=t("dup.gone", resident.locale, number=number)), *filed]

    async def _follow(
        self,
        uow: UnitOfWork,
        action: FollowTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        locale = resident.locale
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or not is_open(ticket.status):
            if action.fallback is not None:
                return await self._file_instead(
                    uow, action.number, action.fallback, resident, msg, state
                )
            return [Outbound(text=t("supplement.not_open", locale, number=action.number))]
        added = await self.tickets.follow(
            uow, ticket, channel=msg.channel, user_id=msg.user_id, resident_id=resident.id
        )
        key = "dup.followed" if added else "dup.already_following"
        return [
            Outbound(
                text=t(
                    key, locale, number=ticket.number, status=status_text(ticket.status, locale)
                ),
                kind="following",
                data={"number": ticket.number},
            )
        ]

    async def _supplement(
        self,
        uow: UnitOfWork,
        action: AddSupplement,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        locale = resident.locale
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or ticket.resident_id != resident.id:
            return [Outbound(text=t("supplement.not_open", locale, number=action.number))]
        if not is_open(ticket.status):
            if action.fallback is not None:
                return await self._file_instead(
                    uow, action.number, action.fallback, resident, msg, state
                )
            return [
                Outbound(
                    text=t(
                        "supplement.closed",
                        locale,
                        number=ticket.number,
                        status=status_text(ticket.status, locale),
                    )
                )
            ]
        who = await self.tickets.supplement(
            uow,
            ticket,
            Actor.resident(resident.id),
            text=action.text,
            photos=action.photos,
        )
        return [Outbound(text=t("supplement.done", locale, number=ticket.number, who=who))]

    async def _rate(
        self, uow: UnitOfWork, action: RateTicket, resident: Resident
    ) -> list[Outbound]:
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or ticket.resident_id != resident.id or ticket.status != "resolved":
            return [Outbound(text=t("rate.nothing", resident.locale))]
        reply = await self.tickets.rate(
            uow, ticket, action.score, action.comment, Actor.resident(resident.id)
        )
        return [reply]

    async def _add_phone(
        self, uow: UnitOfWork, action: AddContactPhone, resident: Resident
    ) -> list[Outbound]:
        ticket = await uow.tickets.by_number(action.number)
        if ticket is None or ticket.resident_id != resident.id:
            return []
        ticket.contact_phone = action.phone
        ticket.updated_at = self.clock.now()
        await uow.tickets.save(ticket)
        resident.phone = action.phone
        await uow.registry.save(resident)
        await self.tickets.event(
            uow,
            ticket,
            "contact_added",
            Actor.resident(resident.id),
            note=mask_phone(action.phone),
        )
        # now there is a number to call: the call-back promise runs from now
        due = await self.tickets.sla_clocks.callback_for_phone(uow, ticket)
        if ticket.assignee_id:
            notice = worker_notice(
                "push.phone_added", ticket.number, phone=action.phone, status=ticket.status
            )
            if due is not None:
                notice = replace(
                    notice,
                    text=notice.text + t("task.callback", "zh", deadline=local_time(due)),
                    buttons=task_buttons(ticket.number, "zh", ticket.status, callback=True),
                )
            await self.tickets.push_to_worker(uow, ticket.assignee_id, notice, ticket)
        return [Outbound(text=t("phone_added", resident.locale, number=ticket.number))]

    async def _hand_to_staff(
        self, uow: UnitOfWork, action: HandToStaff, resident: Resident, msg: Inbound
    ) -> list[Outbound]:
        """The bot cannot help: the conversation waits in the staff inbox, with the reason."""
        building = await uow.registry.building(action.building_id) if action.building_id else None
        community_id = building.community_id if building else resident.community_id
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if communities else None
        opened = await open_handoff(
            uow,
            now=self.clock.now(),
            msg=msg,
            resident=resident,
            community_id=community_id,
            building_id=building.id if building else None,
            phone=resident.phone or "",
            note=action.note,
            reason=action.reason,
        )
        locale = resident.locale
        return [Outbound(text=promise_text(opened, locale), buttons=(end_button(locale),))]

    async def _callback(
        self, uow: UnitOfWork, action: RequestCallback, resident: Resident, msg: Inbound
    ) -> list[Outbound]:
        locale = resident.locale
        resident.phone = action.phone or resident.phone
        await uow.registry.save(resident)
        building = await uow.registry.building(action.building_id) if action.building_id else None
        community_id = building.community_id if building else resident.community_id
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if communities else None
        snapshot = await self.tickets.snapshot(
            uow, community_id=community_id, grid_id=building.grid_id if building else None
        )
        decision = route(
            grid_id=building.grid_id if building else None,
            community_id=community_id,
            grids=snapshot.grids,
            workers=snapshot.workers,
        )
        community = await uow.registry.community(community_id) if community_id else None
        hotline = (
            t("human.hotline", locale, hotline=community.hotline)
            if community and community.hotline
            else ""
        )
        # staff answer in this chat (the console's inbox); the grid worker also calls back
        opened = await open_handoff(
            uow,
            now=self.clock.now(),
            msg=msg,
            resident=resident,
            community_id=community_id,
            building_id=building.id if building else None,
            phone=action.phone,
            note=action.note,
        )
        replies = [Outbound(text=promise_text(opened, locale), buttons=(end_button(locale),))]
        if decision.worker is None or decision.worker.role == "community_staff":
            return replies + ([Outbound(text=hotline)] if hotline else [])
        where = f"，{building.name}" if building else ""
        await self.tickets.push_to_worker(
            uow,
            decision.worker.id,
            Outbound(
                text=t("push.callback", "zh", phone=action.phone, location=where),
                kind="callback_request",
                data={"phone": action.phone},
            ),
            None,
        )
        # the role called what it is: a grid leader is not "网格员"
        key = "who.grid_leader" if decision.worker.role == "grid_leader" else "human.who.worker"
        who = t(key, locale, name=decision.worker.name)
        return [*replies, Outbound(text=t("human.requested", locale, who=who, hotline=hotline))]
