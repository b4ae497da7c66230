"""Reports staff take by phone (电话) or at the counter (窗口) (I/O, issue 14 item 4).

The ticket is filed like a chat report — routing, call-back and SLA clocks, duplicates,
hotspots — for a resident known by their phone. That phone is personal data: it is stored
on the ticket (``contact_phone``) and the resident, shown to the assignee and to staff, and
masked everywhere else (logs, exports, Open311, the receipt printed for the counter).

Where the resident hears about it:

1. their own chat, when that phone already belongs to a resident who linked a chat account;
2. otherwise by text message (channel ``sms``: ``bot/notify/sms.py``) when the phone is a
   mobile number and SMS is configured;
3. otherwise not at all until they link a chat.

The receipt carries a one-time bind code; sending "绑定 1234 5678" in WeChat, Telegram or the
web chat moves the resident (their tickets and follows) onto that chat: updates go there from
then on (``people_service.link_resident``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from handlers.codec import outbound_to_dict
from handlers.errors import Conflict, InvalidInput
from handlers.flows import FLOWS, category_label
from handlers.guards import require
from handlers.helper_reach import SMS, chat_of
from handlers.i18n import status_text, t
from handlers.lifecycle import Actor
from handlers.messages import Outbound
from handlers.notices import LOCAL_TZ
from handlers.people import code_hash, code_text, masked_phone, mobile, new_link_code
from handlers.permissions import Action, CommunityTarget, Subject
from handlers.ports import Clock
from handlers.ticket_service import TicketService
from nlu.pii import phone_digits
from storage.interfaces import Store, UnitOfWork
from storage.models import LinkCode, Resident, Ticket

SOURCES = {"phone": "电话", "counter": "窗口"}
CODE_DAYS = 30


class DeskReportIn(BaseModel):
    """A report taken by phone or at the counter."""

    source: str = Field(
        default="phone", description="phone (电话) | counter (窗口)", examples=["phone"]
    )
    phone: str = Field(min_length=5, max_length=30, examples=["13800001234"])
    name: str = Field(default="", max_length=50, description="how the resident is called")
    building: int | None = Field(default=None, description="building id (see /api/v1/registry)")
    community: int | None = Field(default=None, description="community id, without a building")
    location_note: str = Field(default="", max_length=200)
    unit: str = Field(default="", max_length=20)
    room: str = Field(default="", max_length=20)
    category: str = Field(max_length=40, examples=["elevator"])
    description: str = Field(min_length=2, max_length=2000, examples=["3幢电梯停在5楼不动了"])
    priority: str = Field(default="normal", pattern="^(urgent|high|normal|low)$")
    duplicate: str = Field(
        default="",
        pattern="^(|follow|new)$",
        description="when the same problem is already open: follow it, or file anyway (new)",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        value = {"电话": "phone", "窗口": "counter"}.get(value.strip(), value.strip())
        if value not in SOURCES:
            raise ValueError("source 只能是 phone（电话）或 counter（窗口）")
        return value

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in {flow.category for flow in FLOWS.values()}:
            raise ValueError("未知类别")
        return value

    @field_validator("unit", "room")
    @classmethod
    def _bare(cls, value: str) -> str:
        # stored bare like the chat's slots ("2", "301"): the card adds 单元 / 室
        return value.strip().removesuffix("单元").removesuffix("室").strip()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        digits = phone_digits(value)
        if not 5 <= len(digits) <= 20:
            raise ValueError("电话号码格式不对")
        return digits


class DuplicateFound(Conflict):
    """The same problem is open: staff choose follow or new (the chat asks the resident)."""

    def __init__(self, number: str, status: str) -> None:
        super().__init__(
            f"已有相同问题在处理中（工单 {number}，{status}）。"
            "请选择：让居民关注该工单（duplicate=follow），或仍新建（duplicate=new）。"
        )
        self.number = number
        self.status = status


class DeskReports:
    """Files tickets for residents who called or came to the counter.

    Args:
        store: units of work.
        clock: the time source.
        tickets: files, routes and notifies.
        sms: whether text messages can be sent (``MINHU_SMS__…`` configured).
        on_outbox: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        tickets: TicketService,
        *,
        sms: bool,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets
        self.sms = sms
        self._kick = on_outbox or (lambda: None)

    async def create(self, subject: Subject, actor: Actor, body: DeskReportIn) -> dict[str, Any]:
        """File the report; returns the number, the assignee, where updates go and the
        receipt (with its bind code).

        Raises:
            InvalidInput: no such building/community.
            NotAllowed: not the subject's community (``answer``, like the handoff inbox).
            DuplicateFound: the same problem is open and ``duplicate`` was not chosen.
        """
        async with self.store.unit() as uow:
            result = await self._create(uow, subject, actor, body)
            queued = uow.queued > 0
        if queued:
            self._kick()
        return result

    async def _create(
        self, uow: UnitOfWork, subject: Subject, actor: Actor, body: DeskReportIn
    ) -> dict[str, Any]:
        now = self.clock.now()
        building = await uow.registry.building(body.building) if body.building else None
        if body.building and building is None:
            raise InvalidInput(f"没有编号为 {body.building} 的楼栋")
        community_id = building.community_id if building else body.community
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if len(communities) == 1 else None
        if community_id is None or await uow.registry.community(community_id) is None:
            raise InvalidInput("请选择楼栋或社区")
        if building is None and not body.location_note:
            raise InvalidInput("请选择楼栋，或填写地点")
        require(subject, Action.ANSWER, CommunityTarget(community_id))
        resident, reach = await self._resident(uow, body, building, community_id)
        duplicate = await self.tickets.find_duplicate(
            uow,
            category=body.category,
            community_id=community_id,
            building_id=building.id if building else None,
            latitude=None,
            longitude=None,
            channel=reach[0],
            user_id=reach[1],
        )
        if duplicate is not None and body.priority != "urgent":
            if body.duplicate == "":
                raise DuplicateFound(duplicate.ticket.number, status_text(duplicate.ticket.status))
            if body.duplicate == "follow":
                return await self._follow(uow, duplicate.ticket, resident, reach)
        number = await uow.tickets.next_number(now.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
        extra: dict[str, Any] = {"source": body.source, "filed_by": actor.name}
        source = SOURCES[body.source]
        prefix = f"【{source}受理】"
        if duplicate is not None:
            extra["possible_duplicate_of"] = duplicate.ticket.number
            prefix += t("task.possible_duplicate", "zh", number=duplicate.ticket.number)
        ticket = Ticket(
            number=number,
            community_id=community_id,
            category=body.category,
            priority=body.priority,
            status="submitted",
            description=body.description.strip(),
            building_id=building.id if building else None,
            building_name=building.name if building else "",
            unit=body.unit,
            room=body.room,
            location_note="" if building else body.location_note,
            latitude=building.latitude if building else None,
            longitude=building.longitude if building else None,
            grid_id=building.grid_id if building else None,
            resident_id=resident.id,
            channel=reach[0],
            channel_user_id=reach[1],
            contact_phone=body.phone,
            extra=extra,
            created_at=now,
            updated_at=now,
        )
        assignee = await self.tickets.file(uow, ticket, actor=actor, card_prefix=prefix)
        await self.tickets.event(
            uow,
            ticket,
            "desk_report",
            actor,
            note=f"{source}受理，居民电话 {masked_phone(body.phone)}",
            data={"source": body.source},
        )
        who = (
            t("desk.assigned", "zh", name=assignee.name)
            if assignee is not None
            else t("desk.unassigned", "zh")
        )
        category = category_label(ticket.category)
        code = None
        if reach[0] in (SMS, ""):
            code = await self._code(uow, resident, number)
            # no text-message gateway: nothing may promise updates by SMS
            receipt = t(
                "desk.receipt" if reach[0] == SMS else "desk.receipt_unlinked",
                "zh",
                number=number,
                category=category,
                assignee=who,
                phone=masked_phone(body.phone),
                code=code,
            )
        else:
            receipt = t("desk.receipt_linked", "zh", number=number, category=category, assignee=who)
        if reach[0]:
            await self.tickets.notifications.push_reporter(
                uow, ticket, Outbound(text=receipt, kind="ticket_created", data={"number": number})
            )
        return {
            "number": number,
            "status": ticket.status,
            "assignee": assignee.name if assignee else None,
            "updates_via": reach[0] or "none",
            "bind_code": code,
            "receipt": receipt,
        }

    async def _resident(
        self, uow: UnitOfWork, body: DeskReportIn, building: Any, community_id: int
    ) -> tuple[Resident, tuple[str, str]]:
        """The resident with this phone (created on first contact) and where they hear from
        us: their own chat, else SMS, else nowhere yet (``("", "")``)."""
        cell = mobile(body.phone)
        resident: Resident | None = None
        if cell is not None:
            resident, _ = await uow.registry.ensure_resident(SMS, cell)
        else:  # a landline: no text messages; one resident per number all the same
            resident = await uow.registry.add(Resident())
        if resident is None:  # pragma: no cover - created above
            raise InvalidInput("无法登记居民")
        resident.phone = resident.phone or body.phone
        resident.display_name = resident.display_name or body.name.strip()
        if building is not None and resident.building_id is None:
            resident.building_id = building.id
            resident.community_id = building.community_id
            resident.unit = resident.unit or body.unit
            resident.room = resident.room or body.room
        elif resident.community_id is None:
            resident.community_id = community_id
        await uow.registry.save(resident)
        chat = await chat_of(uow, resident.id)
        if chat is not None:
            return resident, (chat.channel, chat.user_id)
        if cell is not None and self.sms:
            return resident, (SMS, cell)
        return resident, ("", "")

    async def _code(self, uow: UnitOfWork, resident: Resident, number: str) -> str:
        now = self.clock.now()
        code = new_link_code()
        await uow.people.add_code(
            LinkCode(
                code_hash=code_hash(code),
                kind="resident",
                resident_id=resident.id,
                ticket_number=number,
                created_at=now,
                expires_at=now + timedelta(days=CODE_DAYS),
            )
        )
        return code_text(code)

    async def _follow(
        self, uow: UnitOfWork, ticket: Ticket, resident: Resident, reach: tuple[str, str]
    ) -> dict[str, Any]:
        followed = False
        if reach[0]:
            followed = await self.tickets.follow(
                uow, ticket, channel=reach[0], user_id=reach[1], resident_id=resident.id
            )
            if followed:
                text = t(
                    "dup.followed", "zh", number=ticket.number, status=status_text(ticket.status)
                )
                await uow.outbox.enqueue(
                    reach[0],
                    reach[1],
                    outbound_to_dict(Outbound(text=text)),
                    now=self.clock.now(),
                    ticket_id=ticket.id,
                )
                uow.queued += 1
        return {
            "number": ticket.number,
            "status": ticket.status,
            "assignee": None,
            "followed": followed,
            "updates_via": reach[0] or "none",
            "bind_code": None,
            "receipt": f"已为居民关注工单 {ticket.number}（{status_text(ticket.status)}）",
        }
