"""The live handoff (I/O): a resident who asks for a person (转人工) talks with community staff.

The resident side runs inside the resident's message (its unit of work): ``open_handoff``
when the dialogue asks for a person, ``resident_turn`` for every message while a handoff is
open (the bot stays quiet; what the resident writes goes to staff). The staff side,
``HandoffDesk``, is the console's inbox: list the waiting conversations with their clock,
take one, read the conversation so far, write to the resident in their own channel (through
the outbox), turn it into a ticket, and hand the resident back to the bot.

```mermaid
stateDiagram-v2
    [*] --> waiting: 转人工
    waiting --> taken: staff take it
    taken --> taken: staff and resident write
    waiting --> closed: back to the bot
    taken --> closed: back to the bot (staff, or the resident's 结束人工)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from handlers import audit_service
from handlers.accounts import Principal
from handlers.codec import outbound_to_dict
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.flows import FLOWS, category_label
from handlers.guards import require, require_some
from handlers.i18n import t
from handlers.lifecycle import Actor
from handlers.messages import Button, Inbound, Outbound
from handlers.notices import LOCAL_TZ
from handlers.permissions import Action, CommunityTarget, communities_for
from handlers.ports import Clock
from handlers.privacy import mask_text
from handlers.ticket_service import TicketService
from handlers.tickets.common import working_hours
from storage.interfaces import Store, UnitOfWork
from storage.models import Handoff, HandoffMessage, Resident, Ticket

PROMISE = timedelta(minutes=10)  # staff answer within this much working time
END_BUTTON = "handoff:end"
END_WORDS = frozenset({"结束人工", "退出人工", "回到机器人", "结束对话", "end", "bot"})
STATUS_LABELS = {"waiting": "等待接入", "taken": "接待中", "closed": "已结束"}
SENDER_LABELS = {"resident": "居民", "staff": "工作人员", "system": "系统"}
REASON_LABELS = {"asked": "居民要求转人工", "bot_stuck": "机器人无法处理"}
MISSING = "没有找到该人工会话"


# --- the resident's side (inside the resident's message) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """A handoff opened (or the one already open) and when staff promise to answer."""

    handoff: Handoff
    answer_by: datetime
    new: bool


async def open_handoff(
    uow: UnitOfWork,
    *,
    now: datetime,
    msg: Inbound,
    resident: Resident,
    community_id: int | None,
    building_id: int | None,
    phone: str,
    note: str,
    reason: str = "asked",
) -> Opened:
    """Open a handoff for the chat user (or keep the open one) and note why."""
    hours = await working_hours(uow, community_id)
    answer_by = hours.add(now, PROMISE) if hours else now + PROMISE
    handoff = await uow.handoffs.open_for(msg.channel, msg.user_id)
    new = handoff is None
    if handoff is None:
        handoff = await uow.handoffs.save(
            Handoff(
                channel=msg.channel,
                user_id=msg.user_id,
                resident_id=resident.id,
                community_id=community_id,
                building_id=building_id,
                reason=reason,
                phone=phone,
                note=note[:500],
                requested_at=now,
                last_at=now,
            )
        )
    if note:
        await _say(uow, handoff, "resident", "", note, now)
    return Opened(handoff, answer_by, new)


def promise_text(opened: Opened, locale: str) -> str:
    """Who will answer and when (local time)."""
    when = opened.answer_by.astimezone(LOCAL_TZ)
    today = opened.handoff.requested_at.astimezone(LOCAL_TZ).date()
    at = when.strftime("%H:%M") if when.date() == today else when.strftime("%m月%d日 %H:%M")
    if opened.handoff.status == "taken" and opened.handoff.taken_by_name:
        return t("handoff.already_taken", locale, name=opened.handoff.taken_by_name)
    return t("handoff.opened", locale, at=at)


def end_button(locale: str) -> Button:
    return Button(t("handoff.end_button", locale), END_BUTTON)


async def resident_turn(
    uow: UnitOfWork, handoff: Handoff, msg: Inbound, now: datetime, locale: str
) -> list[Outbound]:
    """A resident's message while a handoff is open: to staff, or back to the bot on request."""
    text = msg.text.strip()
    if msg.button == END_BUTTON or text.lower() in END_WORDS:
        await _close(uow, handoff, now, t("handoff.sys.resident_ended", "zh"))
        return [Outbound(text=t("handoff.ended_by_resident", locale))]
    if msg.media:
        text = (text + " " if text else "") + t("handoff.photo", "zh", count=len(msg.media))
    if msg.button and not text:
        text = msg.button
    await _say(uow, handoff, "resident", "", text, now)
    if handoff.status == "waiting":
        return [Outbound(text=t("handoff.still_waiting", locale), buttons=(end_button(locale),))]
    return []  # a person is answering: the bot stays quiet


async def _say(
    uow: UnitOfWork, handoff: Handoff, sender: str, author: str, text: str, now: datetime
) -> HandoffMessage:
    handoff.last_at = now
    await uow.handoffs.save(handoff)
    return await uow.handoffs.add_message(
        HandoffMessage(handoff_id=handoff.id or 0, sender=sender, author=author, text=text, at=now)
    )


async def _close(uow: UnitOfWork, handoff: Handoff, now: datetime, why: str) -> None:
    handoff.status = "closed"
    handoff.closed_at = now
    await _say(uow, handoff, "system", "", why, now)


# --- the staff's side (the console inbox) ---------------------------------------------------


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=1000, description="what the resident will read")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("请输入回复内容")
        return value.strip()


class HandoffTicketIn(BaseModel):
    category: str = Field(max_length=40, description="a report category (see /api/v1/tickets)")
    description: str = Field(min_length=2, max_length=2000)
    priority: str = Field(default="normal", pattern="^(urgent|high|normal|low)$")

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in {flow.category for flow in FLOWS.values()}:
            raise ValueError("未知类别")
        return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_json(m: HandoffMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "at": _iso(m.at),
        "time": m.at.astimezone(LOCAL_TZ).strftime("%H:%M:%S"),
        "sender": m.sender,
        "sender_label": m.author if m.sender == "staff" and m.author else SENDER_LABELS[m.sender],
        # staff read the resident's words with phones and other personal data masked
        "text": mask_text(m.text) if m.sender == "resident" else m.text,
    }


class HandoffDesk:
    """The staff inbox of residents waiting for or talking with a person.

    Args:
        store: units of work over the database.
        clock: the time source.
        tickets: files a ticket made from a handoff (routing, clocks, notifications).
    """

    def __init__(self, store: Store, clock: Clock, tickets: TicketService) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets

    async def inbox(self, p: Principal, *, closed: bool = False) -> list[dict[str, Any]]:
        """Open handoffs (waiting first, the longest waiting on top); recently closed ones."""
        require_some(p.subject, Action.ANSWER)
        scope = communities_for(p.subject, Action.ANSWER)
        statuses = ("closed",) if closed else ("waiting", "taken")
        async with self.store.unit() as uow:
            rows = await uow.handoffs.listing(statuses=statuses, community_ids=scope, limit=200)
            communities = {c.id: c.name for c in await uow.registry.communities()}
            out = []
            for h in rows:
                last = await uow.handoffs.messages(h.id or 0)
                said = [m for m in last if m.sender == "resident"]
                out.append(
                    self._json(h, communities)
                    | {"last_text": mask_text(said[-1].text)[:80] if said else ""}
                )
        if not closed:
            out.sort(key=lambda h: (h["status"] != "waiting", h["requested_at"] or ""))
        return out

    async def detail(self, p: Principal, handoff_id: int) -> dict[str, Any]:
        """One handoff: the conversation with the bot before it, and what was said since."""
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id)
            before = await uow.inbound.recent_for_user(h.channel, h.user_id, limit=20)
            communities = {c.id: c.name for c in await uow.registry.communities()}
            building = await uow.registry.building(h.building_id) if h.building_id else None
            messages = await uow.handoffs.messages(h.id or 0)
        history = [
            {
                "at": _iso(m.received_at),
                "text": mask_text(str((m.payload or {}).get("text") or "")),
                "replies": [mask_text(str(r.get("text", ""))) for r in m.replies or []],
            }
            for m in sorted(before, key=lambda m: m.received_at)
            if m.received_at <= h.requested_at + timedelta(seconds=1)
        ]
        return self._json(h, communities) | {
            "building": building.name if building else "",
            "history": history,
            "messages": [message_json(m) for m in messages],
        }

    async def messages(self, p: Principal, handoff_id: int, *, after: int) -> dict[str, Any]:
        """What was said after message ``after`` (the console polls this), and the status."""
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id)
            rows = await uow.handoffs.messages(h.id or 0, after=after)
        return {
            "status": h.status,
            "status_label": STATUS_LABELS[h.status],
            "taken_by_name": h.taken_by_name,
            "ticket_number": h.ticket_number,
            "messages": [message_json(m) for m in rows],
        }

    async def take(self, p: Principal, handoff_id: int, *, ip: str = "") -> dict[str, Any]:
        """Take a waiting handoff (or take over one another staff member holds)."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id, open_only=True)
            before = h.taken_by_name
            h.status, h.taken_at, h.taken_by, h.taken_by_name = "taken", now, p.user_id, p.label
            await _say(uow, h, "system", "", t("handoff.sys.taken", "zh", name=p.label), now)
            await self._tell(uow, h, t("handoff.taken", "zh", name=p.label), now)
            await self._audit(uow, p, "handoff.take", h, now, ip, f"接入人工会话（原：{before}）")
        self.tickets.kick()
        return await self.detail(p, handoff_id)

    async def reply(
        self, p: Principal, handoff_id: int, body: ReplyIn, *, ip: str = ""
    ) -> dict[str, Any]:
        """Write to the resident in their channel (taking the handoff if nobody has)."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id, open_only=True)
            if h.status == "waiting":
                h.status, h.taken_at, h.taken_by, h.taken_by_name = "taken", now, p.user_id, p.label
                await _say(uow, h, "system", "", t("handoff.sys.taken", "zh", name=p.label), now)
            message = await _say(uow, h, "staff", p.label, body.text, now)
            said = t("handoff.staff_says", "zh", name=p.label, text=body.text)
            await self._tell(uow, h, said, now)
        self.tickets.kick()
        return message_json(message)

    async def to_ticket(
        self, p: Principal, handoff_id: int, body: HandoffTicketIn, *, ip: str = ""
    ) -> str:
        """File a ticket for the resident from the handoff; the resident is told its number."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id)
            if h.ticket_number:
                raise Conflict(f"该会话已转为工单 {h.ticket_number}")
            resident = await uow.registry.resident(h.resident_id) if h.resident_id else None
            building_id = h.building_id or (resident.building_id if resident else None)
            building = await uow.registry.building(building_id) if building_id else None
            number = await uow.tickets.next_number(now.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
            ticket = Ticket(
                number=number,
                community_id=building.community_id if building else h.community_id,
                category=body.category,
                priority=body.priority,
                status="submitted",
                description=body.description,
                building_id=building.id if building else None,
                building_name=building.name if building else "",
                unit=resident.unit if resident and building else "",
                room=resident.room if resident and building else "",
                grid_id=building.grid_id if building else None,
                resident_id=h.resident_id,
                channel=h.channel,
                channel_user_id=h.user_id,
                contact_phone=h.phone or (resident.phone if resident else ""),
                extra={"handoff_id": h.id, "filed_by": p.label},
                created_at=now,
                updated_at=now,
            )
            actor = Actor.admin(f"user:{p.user_id}", p.label)
            await self.tickets.file(uow, ticket, actor=actor)
            h.ticket_number = number
            label = category_label(body.category, "zh")
            await _say(uow, h, "system", "", t("handoff.sys.ticket", "zh", number=number), now)
            await self._tell(
                uow, h, t("handoff.ticket_filed", "zh", number=number, category=label), now
            )
            await self._audit(uow, p, "handoff.ticket", h, now, ip, f"转为工单 {number}（{label}）")
        self.tickets.kick()
        return number

    async def release(self, p: Principal, handoff_id: int, *, ip: str = "") -> None:
        """End the handoff: the resident talks with the bot again."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            h = await self._get(uow, p, handoff_id, open_only=True)
            await _close(uow, h, now, t("handoff.sys.released", "zh", name=p.label))
            await self._tell(uow, h, t("handoff.released", "zh"), now)
            await self._audit(uow, p, "handoff.release", h, now, ip, "交还智能助手")
        self.tickets.kick()

    async def waiting_count(self, p: Principal) -> int:
        scope = communities_for(p.subject, Action.ANSWER)
        if scope == ():
            return 0
        async with self.store.unit() as uow:
            rows = await uow.handoffs.listing(statuses=("waiting",), community_ids=scope)
        return len(rows)

    # --- helpers ---------------------------------------------------------------------------

    async def _get(
        self, uow: UnitOfWork, p: Principal, handoff_id: int, *, open_only: bool = False
    ) -> Handoff:
        require_some(p.subject, Action.ANSWER)
        h = await uow.handoffs.get(handoff_id)
        if h is None:
            raise NotFound(MISSING)
        scope = communities_for(p.subject, Action.ANSWER)
        if scope is not None and h.community_id not in scope:
            raise NotFound(MISSING)  # never confirm another community's conversation exists
        require(p.subject, Action.ANSWER, CommunityTarget(h.community_id))
        if open_only and h.status == "closed":
            raise InvalidInput("该会话已结束，居民已回到智能助手")
        return h

    async def _tell(self, uow: UnitOfWork, h: Handoff, text: str, now: datetime) -> None:
        """A message to the resident in their own channel, sent after the commit."""
        out = Outbound(text=text, kind="handoff", data={"handoff": str(h.id or 0)})
        await uow.outbox.enqueue(h.channel, h.user_id, outbound_to_dict(out), now=now)
        uow.queued += 1

    async def _audit(
        self, uow: UnitOfWork, p: Principal, action: str, h: Handoff, now: datetime, ip: str, s: str
    ) -> None:
        await audit_service.record(
            uow, p, action, now=now, target_type="handoff", target_id=h.id, summary=s, ip=ip
        )

    def _json(self, h: Handoff, communities: dict[int | None, str]) -> dict[str, Any]:
        now = self.clock.now()
        end = h.closed_at or now
        return {
            "id": h.id,
            "channel": h.channel,
            "status": h.status,
            "status_label": STATUS_LABELS.get(h.status, h.status),
            "reason_label": REASON_LABELS.get(h.reason, h.reason),
            "community": communities.get(h.community_id, ""),
            "phone": mask_text(h.phone),
            "requested_at": _iso(h.requested_at),
            "taken_at": _iso(h.taken_at),
            "taken_by_name": h.taken_by_name,
            "closed_at": _iso(h.closed_at),
            "ticket_number": h.ticket_number,
            "waited_seconds": int(((h.taken_at or end) - h.requested_at).total_seconds()),
        }
