"""The 12345 work order (pure): what the street hands to the city's hotline, and its CSV.

What leaves Minhu for 12345, and why:

- title, category (code and words), urgency, the time reported and forwarded;
- the description and every note of the history with personal data masked (``nlu.pii``):
  12345 needs the problem, not the neighbours' names or phone numbers;
- the address down to building and unit; the room only with the resident's consent;
- the reporter's phone **only when the resident consented** (the street staff member who
  forwards ticks "居民同意提供联系方式" after asking them, recorded on the order and the
  timeline); otherwise the phone goes masked and 12345 calls the street office's hotline;
- links to the photos (signed, served by Minhu) and the ticket's timeline.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.dialogue.words import mask_phone
from handlers.flows import category_label
from nlu.pii import mask

URGENCY = {"urgent": "特急", "high": "紧急", "normal": "一般", "low": "一般"}
PROTOCOL = "minhu-12345/1"


@dataclass(frozen=True, slots=True)
class Place:
    """Where the ticket is, as 12345 dispatches it."""

    district: str = ""
    street: str = ""
    street_hotline: str = ""
    community: str = ""
    community_hotline: str = ""


@dataclass(frozen=True, slots=True)
class HistoryItem:
    at: datetime
    kind: str
    actor: str
    note: str


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def work_order(
    *,
    order_id: int,
    number: str,
    category: str,
    priority: str,
    description: str,
    building: str,
    unit: str,
    room: str,
    location_note: str,
    contact_phone: str,
    reported_at: datetime,
    forwarded_at: datetime,
    place: Place,
    share_contact: bool,
    attachments: Sequence[str],
    history: Iterable[HistoryItem],
    note: str = "",
    forwarded_by: str = "",
) -> dict[str, Any]:
    """The work order as JSON (the body POSTed to 12345 and the export's row)."""
    label = category_label(category)
    where = "".join(p for p in (building, f"{unit}单元" if unit else "") if p)
    full = "".join(p for p in (place.district, place.street, place.community, where) if p) + (
        f"{room}室" if share_contact and room else ""
    )
    phone = contact_phone if share_contact else mask_phone(contact_phone) if contact_phone else ""
    return {
        "protocol": PROTOCOL,
        "external_id": f"{number}/{order_id}",
        "ticket_number": number,
        "title": f"{place.community}{building} {label}".strip(),
        "category": {"code": category, "name": label},
        "urgency": URGENCY.get(priority, "一般"),
        "description": mask(description),
        "note": mask(note),
        "address": {
            "district": place.district,
            "street": place.street,
            "community": place.community,
            "building": building,
            "unit": unit,
            "room": room if share_contact else "",
            "detail": mask(location_note),
            "full": full,
        },
        "reporter": {
            "contact_allowed": share_contact,
            "phone": phone,
            # with no consent 12345 calls the street (or the community) instead
            "callback_phone": contact_phone
            if share_contact and contact_phone
            else place.street_hotline or place.community_hotline,
        },
        "reported_at": _iso(reported_at),
        "forwarded_at": _iso(forwarded_at),
        "forwarded_by": place.street + (f" {forwarded_by}" if forwarded_by else ""),
        "attachments": list(attachments),
        "history": [
            {"at": _iso(h.at), "kind": h.kind, "actor": h.actor, "note": mask(h.note)}
            for h in history
        ],
    }


CSV_COLUMNS = (
    ("order_no", "12345工单号"),
    ("status", "状态"),
    ("ticket_number", "民呼工单"),
    ("title", "标题"),
    ("category", "类别"),
    ("urgency", "紧急程度"),
    ("address", "地址"),
    ("contact", "联系电话"),
    ("reported_at", "反映时间"),
    ("forwarded_at", "转办时间"),
    ("description", "诉求内容"),
    ("attachments", "附件"),
    ("last_reply", "12345答复"),
)


def csv_row(order: Mapping[str, Any]) -> list[str]:
    """One export row from ``order`` (an order as listed: its payload and bookkeeping)."""
    payload: Mapping[str, Any] = order.get("payload") or {}
    reporter = payload.get("reporter") or {}
    values = {
        "order_no": order.get("order_no") or "",
        "status": order.get("status_label") or order.get("status") or "",
        "ticket_number": payload.get("ticket_number", ""),
        "title": payload.get("title", ""),
        "category": (payload.get("category") or {}).get("name", ""),
        "urgency": payload.get("urgency", ""),
        "address": (payload.get("address") or {}).get("full", ""),
        "contact": reporter.get("phone") or reporter.get("callback_phone") or "",
        "reported_at": payload.get("reported_at", ""),
        "forwarded_at": payload.get("forwarded_at", ""),
        "description": payload.get("description", ""),
        "attachments": " ".join(payload.get("attachments") or ()),
        "last_reply": order.get("last_reply") or "",
    }
    return [str(values[key]) for key, _ in CSV_COLUMNS]


def orders_csv(orders: Iterable[Mapping[str, Any]]) -> str:
    """The export (UTF-8 with BOM so Excel opens the Chinese right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in CSV_COLUMNS])
    for order in orders:
        writer.writerow(csv_row(order))
    return "\ufeff" + out.getvalue()
