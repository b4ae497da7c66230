"""The people around a building (I/O): the registry of building heads and volunteers, asking
them on a ticket, their answers, "我的网格员", and link codes for their chat.

```mermaid
sequenceDiagram
    participant W as worker / staff
    participant P as people service
    participant H as building head (own chat)
    participant T as ticket
    W->>P: 请楼栋长确认 MH-… (or the console / API)
    P->>T: helper row (verify: waits until resolved)
    T-->>P: resolved (Moves.after hook)
    P->>H: 请帮忙确认 3幢 电梯已恢复 [已恢复] [未恢复]
    H->>P: 未恢复
    P->>T: event + reopen; the worker gets the task again
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from handlers.address import BuildingRef, resolve_building
from handlers.codec import outbound_to_dict
from handlers.errors import Conflict, InvalidInput
from handlers.flows import category_label
from handlers.guards import ticket_for
from handlers.helper_reach import SMS, by_rank, send_to_helper
from handlers.i18n import t
from handlers.lifecycle import Actor, Move, is_open
from handlers.messages import Button, Outbound
from handlers.notices import resident_update, task_buttons
from handlers.people import (
    STAFF_LABELS,
    Person,
    building_mention,
    code_hash,
    code_text,
    masked_phone,
    new_link_code,
    person_line,
    role_label,
)
from handlers.permissions import Action, Subject
from handlers.ports import Clock
from handlers.ticket_service import TicketService, facts_of
from handlers.tickets.access import grid_tree
from storage.interfaces import Store, UnitOfWork
from storage.models import (
    Building,
    BuildingHelper,
    LinkCode,
    Resident,
    Ticket,
    TicketHelper,
)

PURPOSES = ("assist", "verify")
ANSWERS = {"assist": ("here", "cannot"), "verify": ("fixed", "not_fixed")}
ANSWER_LABELS = {
    "here": "已到场",
    "cannot": "去不了",
    "fixed": "已恢复",
    "not_fixed": "未恢复",
}
WHAT = {
    "elevator": {"zh": "电梯", "en": "lift"},
    "utilities": {"zh": "水电气", "en": "water/power/gas supply"},
    "property": {"zh": "公共设施", "en": "shared facility"},
    "sanitation": {"zh": "环境卫生", "en": "cleanliness"},
    "parking": {"zh": "停车秩序", "en": "parking"},
    "noise": {"zh": "噪音问题", "en": "noise problem"},
    "safety": {"zh": "安全隐患", "en": "safety hazard"},
    "illegal_construction": {"zh": "违建问题", "en": "illegal construction"},
    "dispute": {"zh": "邻里纠纷", "en": "dispute"},
}


def what_of(category: str, locale: str = "zh") -> str:
    labels = WHAT.get(category, {"zh": "问题", "en": "problem"})
    return labels.get(locale) or labels["zh"]


def helper_payload(row_id: int, answer: str) -> str:
    return f"helper:{row_id}:{answer}"


def parse_helper_payload(payload: str) -> tuple[int, str] | None:
    """``helper:12:fixed`` → (12, "fixed")."""
    head, _, rest = payload.partition(":")
    row, _, answer = rest.partition(":")
    if head != "helper" or not row.isdigit() or answer not in ANSWER_LABELS:
        return None
    return int(row), answer


@dataclass
class Asked:
    """What asking helpers on a ticket did."""

    asked: list[BuildingHelper] = field(default_factory=list)
    queued: list[BuildingHelper] = field(default_factory=list)  # verify: after resolution
    unreachable: list[BuildingHelper] = field(default_factory=list)
    already: list[BuildingHelper] = field(default_factory=list)  # asked before: not again
    rows: list[TicketHelper] = field(default_factory=list)


def worker_reply(ticket: Ticket, purpose: str, done: Asked, locale: str) -> str:
    """What the worker (chat) is told after asking helpers on a ticket."""
    place = ticket.building_name or ticket.location_note

    def who(helpers: Sequence[BuildingHelper]) -> str:
        return "、".join(f"{role_label(h.role, locale)}{h.name}" for h in helpers)

    lines: list[str] = []
    if done.asked:
        key = "worker.helper.asked" if purpose == "verify" else "worker.helper.asked_assist"
        what = what_of(ticket.category, locale)
        lines.append(
            t(key, locale, who=who(done.asked), place=place, what=what, number=ticket.number)
        )
    if done.queued:
        lines.append(t("worker.helper.queued", locale, who=who(done.queued), number=ticket.number))
    if done.unreachable:
        phones = "、".join(f"{h.name} {h.phone or '—'}" for h in done.unreachable)
        lines.append(
            t("worker.helper.unreachable", locale, who=who(done.unreachable), phones=phones)
        )
    if done.already and not lines:
        lines.append(
            t("worker.helper.already", locale, who=who(done.already), number=ticket.number)
        )
    if not lines:
        lines.append(t("worker.helper.none", locale, place=place))
    return "\n".join(lines)


class PeopleService:
    """Building heads and volunteers on tickets, residents' questions, link codes (the
    registry itself: ``handlers/helper_registry_service.py``).

    Args:
        store: units of work.
        clock: the time source.
        tickets: the ticket service (its moves call back here after a resolution).
        on_outbox: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        tickets: TicketService,
        on_outbox: Callable[[], None] | None = None,
        *,
        sms: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets
        self.sms = sms
        self._kick = on_outbox or (lambda: None)
        tickets.moves.after.append(self._after_move)

    # --- helpers on a ticket ----------------------------------------------------------------

    async def ask_on_ticket(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        purpose: str,
        actor: Actor,
        *,
        helper_ids: Sequence[int] | None = None,
        note: str = "",
    ) -> Asked:
        """Add helpers to a ticket (default: the building's head, else the first helper) and
        ask them now — or, to verify an open ticket, once it is resolved.

        Raises:
            InvalidInput: unknown purpose, no building, a helper not of this building.
        """
        if purpose not in PURPOSES:
            raise InvalidInput("purpose 只能是 assist（先到场）或 verify（办结后确认）")
        if ticket.building_id is None:
            raise InvalidInput(t("worker.helper.no_place", "zh", number=ticket.number))
        of_building = by_rank(await uow.people.helpers(building_id=ticket.building_id), ticket.unit)
        if helper_ids:
            chosen = [h for h in of_building if h.id in set(helper_ids)]
            if len(chosen) != len(set(helper_ids)):
                raise InvalidInput(f"所选的人不负责 {ticket.building_name}")
        else:
            chosen = of_building[:1]
        done = Asked()
        if not chosen:
            return done
        now = self.clock.now()
        already = {(r.helper_id, r.purpose) for r in await uow.people.asked_on(ticket.id or 0)}
        for helper in chosen:
            if (helper.id, purpose) in already:
                done.already.append(helper)
                continue
            wait = purpose == "verify" and ticket.status != "resolved"
            row = await uow.people.ask(
                TicketHelper(
                    ticket_id=ticket.id or 0,
                    helper_id=helper.id or 0,
                    purpose=purpose,
                    status="waiting" if wait else "asked",
                    note=note[:300],
                    added_by=actor.name[:100],
                    added_at=now,
                )
            )
            done.rows.append(row)
            label = role_label(helper.role)
            what = "办结后请其确认是否恢复" if purpose == "verify" else "请其先到场协助"
            await self.tickets.event(
                uow,
                ticket,
                "helper_added",
                actor,
                note=f"添加{label}{helper.name}：{what}" + (f"（{note}）" if note else ""),
                data={"helper_id": helper.id, "purpose": purpose},
            )
            if wait:
                done.queued.append(helper)
            elif await self._ask(uow, ticket, row, helper):
                done.asked.append(helper)
            else:
                done.unreachable.append(helper)
        return done

    async def _ask(
        self, uow: UnitOfWork, ticket: Ticket, row: TicketHelper, helper: BuildingHelper
    ) -> bool:
        now = self.clock.now()
        locale = "zh"
        worker = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        values = {
            "role": role_label(helper.role, locale),
            "place": ticket.building_name or ticket.location_note,
            "number": ticket.number,
            "category": category_label(ticket.category, locale),
            "worker": worker.name if worker else "",
        }
        if row.purpose == "verify":
            events = await uow.tickets.events(ticket.id or 0)
            results = [e.note for e in events if e.kind == Move.RESOLVE.value and e.note]
            message = Outbound(
                text=t(
                    "helper.ask.verify",
                    locale,
                    what=what_of(ticket.category, locale),
                    result=results[-1] if results else "已处理",
                    **values,
                ),
                buttons=(
                    Button(t("helper.button.fixed", locale), helper_payload(row.id or 0, "fixed")),
                    Button(
                        t("helper.button.not_fixed", locale),
                        helper_payload(row.id or 0, "not_fixed"),
                    ),
                ),
                kind="helper_request",
                data={"number": ticket.number},
            )
        else:
            message = Outbound(
                text=t(
                    "helper.ask.assist",
                    locale,
                    description=ticket.description[:120],
                    note=row.note,
                    **values,
                ).strip(),
                buttons=(
                    Button(t("helper.button.here", locale), helper_payload(row.id or 0, "here")),
                    Button(
                        t("helper.button.cannot", locale), helper_payload(row.id or 0, "cannot")
                    ),
                ),
                kind="helper_request",
                data={"number": ticket.number},
            )
        sent = await send_to_helper(uow, helper, message, now=now, ticket_id=ticket.id)
        # no linked chat: the worker is given the phone to call instead
        row.status, row.asked_at = ("asked" if sent else "no_chat"), now
        await uow.people.save_asked(row)
        return sent

    async def _after_move(self, uow: UnitOfWork, ticket: Ticket, move: Move, actor: Actor) -> None:
        """A resolved ticket asks the helpers waiting to verify it."""
        if move != Move.RESOLVE:
            return
        for row in await uow.people.asked_on(ticket.id or 0):
            if row.purpose == "verify" and row.status == "waiting":
                helper = await uow.people.helper(row.helper_id)
                if helper is not None and helper.active:
                    await self._ask(uow, ticket, row, helper)

    async def answer(
        self, uow: UnitOfWork, resident: Resident, row_id: int, answer: str
    ) -> Outbound:
        """A helper pressed 已恢复 / 未恢复 / 已到场 / 去不了 in their chat."""
        locale = resident.locale
        row = await uow.people.asked(row_id)
        helper = await uow.people.helper(row.helper_id) if row else None
        if (
            row is None
            or helper is None
            or helper.resident_id != resident.id
            or answer not in ANSWERS.get(row.purpose, ())
        ):
            return Outbound(text=t("helper.not_yours", locale))
        ticket = await uow.tickets.lock(row.ticket_id)
        if ticket is None:  # pragma: no cover - FK
            return Outbound(text=t("helper.not_yours", locale))
        if row.answer:
            return Outbound(
                text=t(
                    "helper.already",
                    locale,
                    number=ticket.number,
                    answer=ANSWER_LABELS.get(row.answer, row.answer),
                )
            )
        now = self.clock.now()
        row.answer, row.status, row.answered_at = answer, "answered", now
        await uow.people.save_asked(row)
        role = role_label(helper.role, "zh")
        place = ticket.building_name or ticket.location_note
        what = what_of(ticket.category, "zh")
        actor = Actor("helper", str(helper.id), f"{role}{helper.name}")
        said = {
            "fixed": f"确认 {place} {what}已恢复",
            "not_fixed": f"反馈 {place} {what}仍未恢复",
            "here": f"已到 {place} 现场",
            "cannot": f"暂时去不了 {place}",
        }[answer]
        await self.tickets.event(
            uow,
            ticket,
            f"helper_{answer}",
            actor,
            note=f"{role}{helper.name}{said}",
            data={"helper_id": helper.id, "purpose": row.purpose, "answer": answer},
        )
        worker = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        values = {"role": role, "name": helper.name, "place": place, "number": ticket.number}
        if answer == "not_fixed" and ticket.status == "resolved":
            # the fix did not hold: back to the worker, like a resident's low rating but
            # without the escalation (the neighbour checked, nobody missed a deadline yet)
            await self.tickets.apply(uow, ticket, Move.REOPEN, actor, note=said)
            await self.tickets.push_resident(uow, ticket, "reopened", reporter=False)
            reporter_locale = await self.tickets.reporter_locale(uow, ticket)
            text = t(
                "push.helper_reopened",
                reporter_locale,
                number=ticket.number,
                role=role_label(helper.role, reporter_locale),
            )
            update = resident_update("reopened", facts_of(ticket), reporter_locale)
            await self.tickets.notifications.push_reporter(uow, ticket, replace(update, text=text))
            if ticket.assignee_id:
                prefix = t("worker.helper.not_fixed", "zh", what=what, **values)
                await self.tickets.push_task(uow, ticket.assignee_id, ticket, prefix=prefix)
        elif ticket.assignee_id:
            await self.tickets.push_to_worker(
                uow,
                ticket.assignee_id,
                Outbound(
                    text=t(f"worker.helper.{answer}", "zh", what=what, **values),
                    buttons=task_buttons(ticket.number, "zh", ticket.status)
                    if is_open(ticket.status)
                    else (),
                    kind="worker_notice",
                    data={"number": ticket.number},
                ),
                ticket,
            )
        return Outbound(
            text=t(
                f"helper.thanks.{answer}",
                locale,
                place=place,
                what=what_of(ticket.category, locale),
                number=ticket.number,
                worker=worker.name if worker else "",
            )
        )

    async def on_ticket(self, uow: UnitOfWork, ticket_id: int) -> list[dict[str, Any]]:
        """The helpers asked on a ticket, for its console page."""
        out = []
        for row in await uow.people.asked_on(ticket_id):
            helper = await uow.people.helper(row.helper_id)
            if helper is None:  # pragma: no cover - FK
                continue
            out.append(
                {
                    "id": row.id,
                    "helper_id": helper.id,
                    "name": helper.name,
                    "role_label": role_label(helper.role),
                    "phone": helper.phone,
                    "purpose": row.purpose,
                    "status": row.status,
                    "answer": row.answer,
                    "answer_label": ANSWER_LABELS.get(row.answer, ""),
                    "asked_at": row.asked_at.isoformat() if row.asked_at else None,
                    "answered_at": row.answered_at.isoformat() if row.answered_at else None,
                }
            )
        return out

    async def desk_ask(
        self,
        subject: Subject,
        label: str,
        actor: Actor,
        number: str,
        purpose: str,
        helper_ids: Sequence[int] | None,
        note: str = "",
    ) -> dict[str, Any]:
        """The console / API: add helpers to a ticket the subject may handle."""
        async with self.store.unit() as uow:
            ticket = ticket_for(
                subject,
                await uow.tickets.by_number(number, for_update=True),
                await grid_tree(uow),
                Action.HANDLE,
            )
            if not is_open(ticket.status) and ticket.status != "resolved":
                raise Conflict(f"工单 {number} 已关闭，不能再请人协助")
            done = await self.ask_on_ticket(
                uow, ticket, purpose, actor, helper_ids=helper_ids, note=note
            )
            if not (done.asked or done.queued or done.unreachable):
                raise InvalidInput(
                    "所选的人已经在这张工单上了"
                    if done.already
                    else t("worker.helper.none", "zh", place=ticket.building_name)
                )
            helpers = await self.on_ticket(uow, ticket.id or 0)
            queued = uow.queued > 0
        if queued:
            self._kick()
        return {
            "number": number,
            "asked": [h.name for h in done.asked],
            "waiting_for_resolution": [h.name for h in done.queued],
            "unreachable": [h.name for h in done.unreachable],
            "helpers": helpers,
        }

    # --- residents: "我的网格员" and link codes ----------------------------------------------

    async def people_of(self, uow: UnitOfWork, building: Building) -> list[Person]:
        """Who looks after a building: its grid's workers and leader, then its helpers."""
        grid_ids: list[int] = []
        grid_id = building.grid_id
        tree = await grid_tree(uow)
        while grid_id is not None and grid_id not in grid_ids:
            grid_ids.append(grid_id)
            grid_id = tree.get(grid_id)
        workers = [w for w in await uow.registry.workers(building.community_id) if w.active]
        people: list[Person] = []
        for role in ("grid_worker", "grid_leader"):
            # the nearest grid (a micro-grid before its parent) that has someone in the role;
            # a leader without a grid leads the whole community
            for gid in (*grid_ids, None):
                found = [w for w in workers if w.grid_id == gid and w.role == role]
                if found:
                    people += [Person(role, w.name, w.phone) for w in found]
                    break
        for helper in by_rank(await uow.people.helpers(building_id=building.id)):
            people.append(Person(helper.role, helper.name, helper.phone, helper.unit))
        return people

    async def who_answer(
        self,
        uow: UnitOfWork,
        resident: Resident,
        text: str,
        buildings: Sequence[BuildingRef],
    ) -> Outbound:
        """The answer to "我的网格员" / "我们楼栋长是谁": the building named in the message,
        else the resident's home."""
        locale = resident.locale
        mention = building_mention(text)
        named = (
            resolve_building(mention, list(buildings), community_id=resident.community_id)
            if mention
            else []
        )
        building_id = named[0].id if len(named) == 1 else resident.building_id
        building = await uow.registry.building(building_id) if building_id else None
        if building is None:
            return Outbound(text=t("people.no_home", locale))
        people = await self.people_of(uow, building)
        place = building.name
        if not any(p.role == "grid_worker" for p in people):
            return Outbound(text=t("people.none", locale, place=place))
        lines = "\n".join(person_line(p, locale) for p in people)
        # the note on partly hidden numbers only where a neighbour's number is shown
        masked = any(p.role not in STAFF_LABELS for p in people)
        hint = t("people.hint" if masked else "people.hint_staff", locale)
        return Outbound(
            text=t("people.answer", locale, place=place, lines=lines, hint=hint),
            kind="people",
        )

    async def ask_phone_code(self, uow: UnitOfWork, resident: Resident, phone: str) -> Outbound:
        """ "绑定手机 139…": text a one-time code to that phone if staff filed reports for it,
        so the writer proves the phone is theirs. The answer is the same whether or not the
        number is known (it must not tell who reported), and one code per 10 minutes."""
        locale = resident.locale
        if not self.sms:
            return Outbound(text=t("link.phone_off", locale))
        now = self.clock.now()
        identity = await uow.registry.identity(SMS, phone)
        owner = identity.resident_id if identity else None
        if owner is not None and owner != resident.id:
            recent = await uow.people.codes_since(owner, now - timedelta(minutes=10))
            if not recent:
                code = new_link_code()
                await uow.people.add_code(
                    LinkCode(
                        code_hash=code_hash(code),
                        kind="resident",
                        resident_id=owner,
                        created_at=now,
                        expires_at=now + timedelta(minutes=30),
                    )
                )
                text = t("link.phone_code", "zh", code=code_text(code))
                await uow.outbox.enqueue(SMS, phone, outbound_to_dict(Outbound(text=text)), now=now)
                uow.queued += 1
        return Outbound(text=t("link.phone_asked", locale, phone=masked_phone(phone)))

    async def link(
        self, uow: UnitOfWork, resident: Resident, channel: str, user_id: str, code: str
    ) -> Outbound:
        """ "绑定 1234 5678" in a chat: a staff-made ticket's resident (updates come here from
        now on) or a building head (asks and notes come here)."""
        locale = resident.locale
        now = self.clock.now()
        used = await uow.people.use_code(code_hash(code), now=now, channel=channel)
        if used is None:
            return Outbound(text=t("link.bad", locale))
        if used.kind == "helper" and used.helper_id is not None:
            helper = await uow.people.helper(used.helper_id)
            if helper is None:  # pragma: no cover - FK
                return Outbound(text=t("link.bad", locale))
            helper.resident_id = resident.id
            await uow.people.save_helper(helper)
            places = await uow.people.buildings_of([helper.id or 0])
            names = [
                b.name
                for i in places.get(helper.id or 0, [])
                if (b := await uow.registry.building(i)) is not None
            ]
            return Outbound(
                text=t(
                    "link.helper_done",
                    locale,
                    name=helper.name,
                    place="、".join(names),
                    role=role_label(helper.role, locale),
                )
            )
        phone_resident = await uow.registry.resident(used.resident_id) if used.resident_id else None
        if phone_resident is None:  # pragma: no cover - FK
            return Outbound(text=t("link.bad", locale))
        numbers = await link_resident(uow, phone_resident, resident, channel, user_id)
        if not numbers:
            return Outbound(text=t("link.done_none", locale))
        return Outbound(text=t("link.done", locale, numbers="、".join(numbers)))


async def link_resident(
    uow: UnitOfWork, phone_resident: Resident, chat_resident: Resident, channel: str, user_id: str
) -> list[str]:
    """Make the chat resident the owner of everything the phone resident had: its identities
    (the SMS one too, so the next staff-made ticket for that phone finds this chat), tickets,
    follows; open tickets' updates go to this chat from now on. Returns the moved numbers."""
    moved: list[str] = []
    phone = phone_resident.phone
    if phone_resident.id != chat_resident.id:
        await uow.people.move_resident(phone_resident.id or 0, chat_resident.id or 0)
        chat_resident.phone = chat_resident.phone or phone_resident.phone
        chat_resident.display_name = chat_resident.display_name or phone_resident.display_name
        if chat_resident.building_id is None and phone_resident.building_id is not None:
            chat_resident.building_id = phone_resident.building_id
            chat_resident.community_id = phone_resident.community_id
            chat_resident.unit = chat_resident.unit or phone_resident.unit
            chat_resident.room = chat_resident.room or phone_resident.room
        await uow.registry.save(chat_resident)
    for ticket in await uow.tickets.for_resident(chat_resident.id or 0, statuses=None):
        if ticket.channel == SMS and _reachable_status(ticket.status):
            ticket.channel, ticket.channel_user_id = channel, user_id
            await uow.tickets.save(ticket)
            moved.append(ticket.number)
    if phone:
        for number in await uow.people.repoint_followers(SMS, phone, channel, user_id):
            if number not in moved:
                moved.append(number)
    return sorted(moved)


def _reachable_status(status: str) -> bool:
    return is_open(status) or status == "resolved"
