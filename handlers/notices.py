"""Pushed messages (task cards, progress updates) built from ticket facts (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.dialogue import location_text, rating_buttons
from handlers.flows import category_label
from handlers.i18n import keys, status_text, t, worker_status_text
from handlers.messages import Button, Outbound
from handlers.sla import duration_text
from storage.models import Ticket

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """The parts of a ticket that messages mention."""

    number: str
    category: str
    priority: str
    status: str
    description: str
    building_name: str = ""
    unit: str = ""
    room: str = ""
    location_note: str = ""
    phone: str = ""
    created_at: datetime | None = None
    plate: str = ""
    photos: int = 0
    hazards: str = ""  # why an urgent ticket is urgent: hazard kinds, comma-separated
    hazard_cues: str = ""  # the resident's words that raised them, "|"-separated
    # the SLA accept deadline while the ticket waits for a worker (from its durable clock)
    respond_by: datetime | None = None
    respond_within: timedelta | None = None
    # the promised call-back time while nobody has recorded a call (from its clock)
    callback_by: datetime | None = None

    def location(self, locale: str = "zh") -> str:
        return location_text(self.building_name, self.unit, self.room, self.location_note, locale)


def facts_location(ticket: Ticket, locale: str = "zh") -> str:
    """Where a stored ticket is, in words."""
    return ticket_facts(ticket).location(locale) or "-"


def ticket_facts(ticket: Ticket, *, photos: int = 0) -> TicketFacts:
    """The facts of a stored ticket that messages mention."""
    return TicketFacts(
        number=ticket.number,
        category=ticket.category,
        priority=ticket.priority,
        status=ticket.status,
        description=ticket.description,
        building_name=ticket.building_name,
        unit=ticket.unit,
        room=ticket.room,
        location_note=ticket.location_note,
        phone=ticket.contact_phone,
        created_at=ticket.created_at,
        plate=str((ticket.extra or {}).get("plate", "")),
        photos=photos,
        hazards=str((ticket.extra or {}).get("hazards", "")),
        hazard_cues=str((ticket.extra or {}).get("hazard_cues", "")),
    )


def response_deadline(facts: TicketFacts, locale: str = "zh") -> str:
    """'11-22 10:07前（10分钟内）': when the worker must have accepted, for the card; empty
    when no accept clock runs (accepted, or in no one's queue)."""
    if facts.respond_by is None or facts.respond_within is None:
        return ""
    span = duration_text(facts.respond_within.total_seconds(), locale)
    return t("task.sla", locale, deadline=local_time(facts.respond_by), span=span)


def urgent_reason(facts: TicketFacts, locale: str = "zh") -> str:
    """'有人被困（居民原话：“电梯卡住了”）': why an urgent ticket is urgent, for its worker."""
    if facts.priority != "urgent" or not facts.hazards:
        return ""
    known = keys()
    labels = [t(f"hazard.{k}", locale) for k in facts.hazards.split(",") if f"hazard.{k}" in known]
    kinds = ("、" if locale == "zh" else ", ").join(labels)
    cues = "、".join(f"“{cue}”" for cue in facts.hazard_cues.split("|") if cue)
    return t("danger.reason", locale, kinds=kinds, cues=cues) if cues else kinds


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


def task_buttons(
    number: str, locale: str, status: str, *, callback: bool = False
) -> tuple[Button, ...]:
    """The buttons a worker sees for a ticket in a given status (``callback``: the call-back
    to the resident is still due, so 已回电 / 联系不上 come first after 接单)."""
    waiting = status in ("submitted", "assigned", "transferred", "escalated", "reopened")
    buttons: list[Button] = []
    if waiting:
        buttons.append(Button(t("worker.button.accept", locale), f"accept:{number}"))
    if status not in ("resolved", "closed", "cancelled", "merged"):
        if callback:
            buttons.append(Button(t("worker.button.called", locale), f"called:{number}"))
            buttons.append(Button(t("worker.button.unreachable", locale), f"unreachable:{number}"))
        buttons.append(Button(t("worker.button.progress", locale), f"progress:{number}"))
        buttons.append(Button(t("worker.button.resolve", locale), f"resolve:{number}"))
        buttons.append(Button(t("worker.button.transfer", locale), f"transfer:{number}"))
        buttons.append(Button(t("worker.button.handoff", locale), f"handoff:{number}"))
    buttons.append(Button(t("worker.button.contact", locale), f"contact:{number}"))
    return tuple(buttons)


def task_card(facts: TicketFacts, locale: str = "zh", *, prefix: str = "") -> Outbound:
    """A new task for a worker: everything needed to call the resident back."""
    extra = ""
    if facts.plate:
        extra += t("confirm.plate", locale, plate=facts.plate)
    if facts.photos:
        extra += t("confirm.photos", locale, count=facts.photos)
    reason = urgent_reason(facts, locale)
    if reason:
        extra += t("task.urgent_reason", locale, reason=reason)
    text = t(
        "task.card",
        locale,
        number=facts.number,
        category=category_label(facts.category, locale),
        urgent=t("task.urgent", locale) if facts.priority == "urgent" else "",
        location=facts.location(locale),
        description=facts.description,
        extra=extra,
        phone=facts.phone or t("confirm.no_phone", locale),
        time=local_time(facts.created_at),
    )
    if facts.callback_by is not None:
        text += t("task.callback", locale, deadline=local_time(facts.callback_by))
    if prefix:
        text = f"{prefix}\n{text}"
    return Outbound(
        text=text,
        buttons=task_buttons(
            facts.number, locale, facts.status, callback=facts.callback_by is not None
        ),
        kind="task_card",
        data={
            "number": facts.number,
            "category": category_label(facts.category, locale),
            "priority": facts.priority,
            "status": facts.status,
            "status_text": worker_status_text(facts.status, locale),
            "location": facts.location(locale),
            "description": facts.description,
            "phone": facts.phone,
            "time": local_time(facts.created_at),
            "sla": response_deadline(facts, locale),
            "plate": facts.plate,
            "photos": str(facts.photos),
            "urgent_reason": reason,
            "prefix": prefix,
            "locale": locale,
        },
    )


def worker_card(
    facts: TicketFacts,
    locale: str = "zh",
    *,
    holder: bool = True,
    assignee: str = "",
    last_note: str = "",
) -> Outbound:
    """A task card as it should look now to the worker it was sent to.

    Channels that edit messages in place (Telegram) re-render a card with this whenever its
    ticket changes. The buttons follow the status; once the ticket belongs to someone else
    (``holder`` False) the card keeps its facts, says who has it and loses its buttons.
    """
    card = task_card(facts, locale)
    data = dict(card.data)
    if last_note:
        data["last_note"] = last_note
    if not holder:
        data["status_text"] = t("task.handed_over", locale, name=assignee or "-")
        data["handed_over"] = "1"
        return replace(card, buttons=(), data=data)
    return replace(card, data=data)


# kind → (text for the reporter, text for a follower or None when it is the same)
_UPDATES: dict[str, tuple[str, str | None]] = {
    "accepted": ("push.accepted", None),
    "progress": ("push.progress", None),
    "resolved": ("push.resolved", "push.resolved.follower"),
    "transferred": ("push.transferred", None),
    "escalated": ("push.escalated", None),
    "handoff": ("push.handoff", None),
    "cohandle": ("push.cohandle", None),
    "department_reply": ("push.department_reply", None),
    "department_done": ("push.department_done", None),
    "merged": ("push.merged", None),
    "closed_unrated": ("push.closed_unrated", "push.closed_unrated.follower"),
    "note": ("push.note", None),
    "closed": ("push.closed", None),
    "cancelled": ("push.cancelled", None),
    "reopened": ("push.reopened.follower", "push.reopened.follower"),
    "callback_unreachable": ("push.callback_unreachable", None),
    "withdrawn": ("push.withdrawn.follower", None),
    "street_referred": ("push.street_referred", None),
    "city_forwarded": ("push.city_forwarded", None),
    "city_reply": ("push.city_reply", None),
    "city_resolved": ("push.city_resolved", None),
}


def resident_update(kind: str, facts: TicketFacts, locale: str = "zh", **values: str) -> Outbound:
    """A progress message for the resident, in the chat where they reported."""
    return _update(kind, facts, locale, False, values)


def follower_update(kind: str, facts: TicketFacts, locale: str = "zh", **values: str) -> Outbound:
    """The same news for a follower (a neighbour who reported the same problem): only the
    reporter is asked to rate."""
    return _update(kind, facts, locale, True, values)


def _update(
    kind: str, facts: TicketFacts, locale: str, follower: bool, values: dict[str, str]
) -> Outbound:
    if kind not in _UPDATES:
        raise ValueError(f"unknown update kind {kind!r}")
    data = {
        "number": facts.number,
        "category": category_label(facts.category, locale),
        "status": facts.status,
        "status_text": status_text(facts.status, locale),
        "event": kind,
    }
    data.update(values)
    reporter_key, follower_key = _UPDATES[kind]
    key = follower_key if follower and follower_key else reporter_key
    fields: dict[str, str] = {"worker": "", "note": "", "target": "", "who": ""}
    fields.update(values)
    fields.update(number=facts.number, category=category_label(facts.category, locale))
    text = t(key, locale, **fields)
    if kind in ("resolved", "city_resolved") and not follower:
        return Outbound(
            text=text,
            buttons=rating_buttons(facts.number, locale),
            kind="rating_request",
            data=data,
        )
    return Outbound(text=text, kind="progress", data=data)


def worker_notice(key: str, number: str, locale: str = "zh", **values: object) -> Outbound:
    return Outbound(
        text=t(key, locale, number=number, **values),
        buttons=task_buttons(number, locale, str(values.get("status", "accepted"))),
        kind="worker_notice",
        data={"number": number},
    )
