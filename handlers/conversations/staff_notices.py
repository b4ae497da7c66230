"""Staff and grid leaders publish notices in chat: "通知 5幢 明天9:00-17:00停水，请提前储水".

The first word names the place (a building by any of its names, a grid, or 全社区 / the
community's name); the rest is the notice. The category and the time window are read from the
text (停水 → water; 明天9:00-17:00); the permission model decides where the sender may publish.
"""

from __future__ import annotations

import re

from handlers.errors import Refused
from handlers.grid_notices import ScopeRef, category_label, category_of, parse_window
from handlers.i18n import t
from handlers.messages import Outbound
from handlers.notice_service import NoticeService
from handlers.permissions import Subject
from nlu.numbers import building_key
from storage.interfaces import UnitOfWork
from storage.models import GridWorker

COMMUNITY_WORDS = frozenset({"全社区", "社区", "全体", "全小区", "小区"})
_SPLIT = re.compile(r"^\s*(\S+?)(?:全体居民|全体|居民)?\s*[:：,，\s]\s*(.+)$", re.DOTALL)


async def publish_from_chat(
    uow: UnitOfWork, notices: NoticeService, worker: GridWorker, text: str, locale: str
) -> Outbound:
    """The 通知 command's rest: place, then the notice."""
    match = _SPLIT.match(text)
    if match is None:
        return Outbound(text=t("staff.notice_usage", locale))
    place, body = match.group(1), match.group(2).strip()
    scope = await _scope(uow, worker, place)
    if scope is None:
        return Outbound(text=t("staff.notice_place", locale, place=place))
    starts, ends = parse_window(body, notices.clock.now())
    category = category_of(body)
    try:
        published = await notices.publish_in(
            uow,
            Subject.of_worker(worker),
            scope,
            body,
            category=category.value,
            starts_at=starts,
            ends_at=ends,
            by=worker.name,
        )
    except Refused as e:
        return Outbound(text=t("staff.notice_error", locale, reason=e.message))
    notice = published.notice
    unreachable = (
        t("staff.notice_unreachable", locale, count=published.unreachable)
        if published.unreachable
        else ""
    )
    opted_out = (
        t("staff.notice_opted_out", locale, count=published.opted_out)
        if published.opted_out
        else ""
    )
    return Outbound(
        text=t(
            "staff.notice_ok",
            locale,
            id=notice.id,
            label=category_label(notice.category, locale),
            place=notice.scope_name,
            recipients=published.recipients,
            unreachable=unreachable,
            opted_out=opted_out,
        )
    )


async def _scope(uow: UnitOfWork, worker: GridWorker, place: str) -> ScopeRef | None:
    community = await uow.registry.community(worker.community_id)
    if place in COMMUNITY_WORDS or (community is not None and place == community.name):
        return ScopeRef("community", worker.community_id)
    for grid in await uow.registry.grids(worker.community_id):
        if grid.name == place:
            return ScopeRef("grid", grid.id)
    key = building_key(place)
    for building in await uow.registry.buildings(worker.community_id):
        if key in {building_key(n) for n in (building.name, *(building.aliases or ()))}:
            return ScopeRef("building", building.id)
    return None
