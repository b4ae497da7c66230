"""Open311 GeoReport v2 (read only): our categories as services, our tickets as service
requests, and what of a ticket may be published (pure).

Personal data is never published:

* no phone numbers, names, chat ids, resident ids, photos (``media_url`` is never set);
* the address stops at the building (``3幢，阳光花园社区，西溪街道``): no unit, no room, and
  not the resident's own location note; coordinates are the building's registered point, or
  the shared location rounded to about 100 m when there is no building;
* the description is the resident's own words, masked by ``nlu.pii`` (phones in any
  format, ID-card numbers, plates, units and rooms, e-mail addresses, chat ids and personal
  names), and categories about people rather than places (neighbour disputes) publish no
  description at all;
* the status notes are the status in words (and where a merged ticket went), never the
  free text workers and departments write: their notes name residents and neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.errors import DialogueError
from handlers.flows import FLOWS, ReportFlow
from handlers.lifecycle import OPEN, Status
from handlers.notices import LOCAL_TZ
from nlu.pii import mask

# the spec's field names (GeoReport v2, "GET Service List" and "GET Service Requests")
SERVICE_FIELDS = (
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
)
SERVICE_REQUIRED = ("service_code", "service_name", "metadata", "type")
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
REQUEST_REQUIRED = ("service_request_id", "status", "service_code", "requested_datetime")
QUERY_PARAMS = (
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
)

# Open311's two states: every status the lifecycle counts as open is "open", the rest "closed".
OPEN_STATUSES = tuple(s.value for s in Status if s in OPEN)
CLOSED_STATUSES = tuple(s.value for s in Status if s not in OPEN)

_GROUPS = {
    "parking": "交通出行",
    "elevator": "设施设备",
    "utilities": "设施设备",
    "noise": "环境秩序",
    "sanitation": "环境卫生",
    "safety": "安全隐患",
    "illegal_construction": "城市管理",
    "property": "物业服务",
    "dispute": "邻里关系",
    "other": "其他",
}
_DESCRIPTIONS = {
    "parking": "小区内违规停车、占用消防通道或出入口",
    "elevator": "电梯故障、困人、异响",
    "utilities": "停水停电、漏水、燃气等公用设施问题",
    "noise": "装修、施工、娱乐等噪音扰民",
    "sanitation": "垃圾堆放、清运不及时、环境脏乱",
    "safety": "楼道堆物、电动车违规充电、井盖缺失等安全隐患",
    "illegal_construction": "私搭乱建、违章加盖",
    "property": "物业服务、公共设施维护",
    "dispute": "邻里之间的矛盾纠纷",
    "other": "其他社区事务",
}


# public words for a status (the resident-facing ones speak to "you")
PUBLIC_STATUS: dict[str, str] = {
    "submitted": "已受理",
    "assigned": "已派单，等待网格员接单",
    "accepted": "网格员已接单",
    "in_progress": "正在处理",
    "resolved": "已办结",
    "closed": "已办结关闭",
    "transferred": "已转派",
    "escalated": "已上报督办",
    "reopened": "已重新打开",
    "cancelled": "已撤销",
    "merged": "已合并",
}


class Open311Error(DialogueError):
    """A request the API refuses; ``code`` is the HTTP status, rendered as the spec's
    ``[{"code": …, "description": …}]``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class Open311Policy:
    """Attributes:
    jurisdiction_id: when set, requests naming another jurisdiction get a 404.
    withhold_description: categories whose descriptions are never published.
    max_requests: at most this many requests per answer (the spec's 1000).
    default_days: the window when no dates are given (the spec's 90 days).
    """

    jurisdiction_id: str = ""
    withhold_description: frozenset[str] = frozenset({"dispute"})
    max_requests: int = 1000
    default_days: int = 90


# --- services -------------------------------------------------------------------------------


def service_list(
    flows: Mapping[str, ReportFlow] = FLOWS, locale: str = "zh"
) -> list[dict[str, Any]]:
    """Our report categories as Open311 services (one per category)."""
    services: dict[str, dict[str, Any]] = {}
    for flow in flows.values():
        if flow.category in services:
            continue
        services[flow.category] = {
            "service_code": flow.category,
            "service_name": flow.label.get(locale) or flow.label["zh"],
            "description": _DESCRIPTIONS.get(flow.category, flow.label["zh"]),
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(flow.departments),
            "group": _GROUPS.get(flow.category, "其他"),
        }
    return list(services.values())


def service_codes(flows: Mapping[str, ReportFlow] = FLOWS) -> frozenset[str]:
    return frozenset(flow.category for flow in flows.values())


# --- queries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A parsed ``GET requests.json``: numbers (which override everything), or filters."""

    numbers: tuple[str, ...] | None = None
    categories: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] | None = None
    limit: int = 1000


_NUMBER = re.compile(r"^MH-\d{8}-\d{4}$", re.IGNORECASE)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_datetime(value: str, name: str) -> datetime:
    """A W3C datetime (2026-11-01T00:00:00Z, …+08:00) or a date; local time when no zone."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as e:
        raise Open311Error(400, f"{name} must be a W3C datetime, e.g. 2026-11-01T00:00:00Z") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed


def parse_query(
    params: Mapping[str, str],
    *,
    now: datetime,
    policy: Open311Policy,
    codes: frozenset[str],
) -> RequestQuery:
    """Validate the query string of ``GET requests.json`` (clear 400s for bad input)."""
    check_jurisdiction(params, policy)
    numbers = _split(params.get("service_request_id"))
    if numbers:
        bad = [n for n in numbers if not _NUMBER.match(n)]
        if bad:
            raise Open311Error(400, f"service_request_id must look like MH-20261122-0001: {bad[0]}")
        return RequestQuery(numbers=tuple(n.upper() for n in numbers[: policy.max_requests]))
    categories = _split(params.get("service_code"))
    unknown = [c for c in categories if c not in codes]
    if unknown:
        raise Open311Error(400, f"unknown service_code {unknown[0]!r}; see services.json")
    start = parse_datetime(params["start_date"], "start_date") if params.get("start_date") else None
    end = parse_datetime(params["end_date"], "end_date") if params.get("end_date") else None
    window = timedelta(days=policy.default_days)
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > window:
            raise Open311Error(
                400, f"start_date to end_date may not span more than {policy.default_days} days"
            )
    elif start is not None:
        end = start + window
    elif end is not None:
        start = end - window
    else:
        start, end = now - window, now
    statuses: list[str] | None = None
    for word in _split(params.get("status")):
        if word.lower() not in ("open", "closed"):
            raise Open311Error(400, f"status must be open or closed, not {word!r}")
        statuses = [
            *(statuses or []),
            *(OPEN_STATUSES if word.lower() == "open" else CLOSED_STATUSES),
        ]
    return RequestQuery(
        categories=tuple(categories),
        start=start,
        end=end,
        statuses=tuple(dict.fromkeys(statuses)) if statuses is not None else None,
        limit=policy.max_requests,
    )


def check_jurisdiction(params: Mapping[str, str], policy: Open311Policy) -> None:
    given = (params.get("jurisdiction_id") or "").strip()
    if given and policy.jurisdiction_id and given != policy.jurisdiction_id:
        raise Open311Error(404, f"jurisdiction_id {given!r} was not found")


# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicTicket:
    """What the service gathers about a ticket for Open311 (nothing personal is passed in
    except the description, which is masked here, and ``last_note``, which is never
    published)."""

    number: str
    status: str
    category: str
    description: str
    created_at: datetime
    updated_at: datetime
    community: str = ""
    street: str = ""
    building: str = ""
    building_lat: float | None = None
    building_lon: float | None = None
    ticket_lat: float | None = None
    ticket_lon: float | None = None
    grid: str = ""
    departments: tuple[str, ...] = ()
    last_note: str = ""  # the latest worker/department note: never published
    merged_into: str = ""
    expected_at: datetime | None = None
    accept_target: str = ""
    resolve_target: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def w3c(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def request_record(ticket: PublicTicket, policy: Open311Policy) -> dict[str, Any]:
    """One ticket as an Open311 service request (keys without a value are left out)."""
    if ticket.merged_into:
        notes = f"与工单 {ticket.merged_into} 为同一问题，已合并处理"
    else:
        notes = PUBLIC_STATUS.get(ticket.status, ticket.status)
    lat, lon = ticket.building_lat, ticket.building_lon
    if lat is None or lon is None:
        lat = round(ticket.ticket_lat, 3) if ticket.ticket_lat is not None else None
        lon = round(ticket.ticket_lon, 3) if ticket.ticket_lon is not None else None
    address = "，".join(p for p in (ticket.building, ticket.community, ticket.street) if p)
    agency = f"{ticket.community}{ticket.grid}" if ticket.grid else ticket.community
    if ticket.departments:
        agency = (
            f"{agency}（协同：{'、'.join(ticket.departments)}）"
            if agency
            else "、".join(ticket.departments)
        )
    notice = ""
    if ticket.accept_target and ticket.resolve_target:
        notice = f"网格员{ticket.accept_target}内响应，{ticket.resolve_target}内办结"
    record: dict[str, Any] = {
        "service_request_id": ticket.number,
        "status": open311_status(ticket.status),
        "status_notes": notes,
        "service_name": ticket.labels.get(ticket.category, ticket.category),
        "service_code": ticket.category,
        "description": ""
        if ticket.category in policy.withhold_description
        else mask(ticket.description),
        "agency_responsible": agency or None,
        "service_notice": notice or None,
        "requested_datetime": w3c(ticket.created_at),
        "updated_datetime": w3c(ticket.updated_at),
        "expected_datetime": w3c(ticket.expected_at)
        if ticket.expected_at is not None and open311_status(ticket.status) == "open"
        else None,
        "address": address or None,
        "lat": lat,
        "long": lon,
    }
    return {key: value for key, value in record.items() if value is not None}


def records(tickets: Sequence[PublicTicket], policy: Open311Policy) -> list[dict[str, Any]]:
    return [request_record(t, policy) for t in tickets]
