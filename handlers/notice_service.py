"""Notices to residents (I/O): publish to a place, deliver through the outbox, count, and
answer residents from the active ones.

```mermaid
sequenceDiagram
    participant S as staff (console, API, chat)
    participant N as notice service
    participant DB as store (one transaction)
    participant O as outbox → channels
    S->>N: publish(scope, text, category, window)
    N->>N: may the subject publish there? (handlers.permissions)
    N->>DB: notice row; residents of the place; opt-outs
    N->>DB: one outbox row per reachable resident (Outbox.notice_id)
    O-->>O: WeChat (48 h window, then template), Telegram, web — rate-limited
    Note over N,DB: counted at publish: recipients, unreachable, opted out;<br/>later: sent, failed
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from handlers.codec import outbound_to_dict
from handlers.errors import InvalidInput, NotAllowed
from handlers.grid_notices import (
    Category,
    NoticeBrief,
    ScopeRef,
    category_label,
    is_active,
    window_text,
)
from handlers.helper_reach import SMS, send_to_helper
from handlers.i18n import t
from handlers.messages import Outbound
from handlers.people import role_label
from handlers.permissions import (
    Action,
    CommunityTarget,
    PlaceTarget,
    StreetTarget,
    Subject,
    Target,
    descends,
    may,
)
from handlers.ports import Clock
from handlers.tickets.access import grid_tree
from storage.interfaces import Store, UnitOfWork
from storage.models import Building, BuildingHelper, ChannelIdentity, Community, Notice

MAX_TEXT = 500


class NoticeError(InvalidInput):
    """A notice that cannot be published (the message says why, in Chinese)."""


class NoticeForbidden(NotAllowed):
    """The subject may not publish to that place."""


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved scope: who lives there and what to call it."""

    scope: ScopeRef
    name: str
    community_id: int | None
    street: str
    target: Target
    building_ids: tuple[int, ...] | None = None  # None: the whole communities
    community_ids: tuple[int, ...] = ()


@dataclass(slots=True)
class Published:
    notice: Notice
    recipients: int = 0
    unreachable: int = 0
    opted_out: int = 0
    helpers: int = 0  # building heads and volunteers asked to pass it on
    channels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """A notice with its delivery counts (console and API)."""

    notice: Notice
    sent: int
    failed: int
    pending: int
    active: bool


class NoticeService:
    """Publishes notices and finds the ones a resident should hear about.

    Args:
        store: units of work.
        clock: the time source.
        on_outbox: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self, store: Store, clock: Clock, on_outbox: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self._kick = on_outbox or (lambda: None)

    async def publish(
        self,
        subject: Subject,
        scope: ScopeRef,
        text: str,
        *,
        category: str = "",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        by: str = "",
    ) -> Published:
        """Publish and queue a notice in one transaction.

        Raises:
            NoticeError: unknown place, empty text, bad window or category.
            NoticeForbidden: the subject may not publish to that place.
            (both are ``Refused``: the console and the API show the message as is)
        """
        async with self.store.unit() as uow:
            published = await self.publish_in(
                uow,
                subject,
                scope,
                text,
                category=category,
                starts_at=starts_at,
                ends_at=ends_at,
                by=by,
            )
        if published.recipients:
            self._kick()
        return published

    async def publish_in(
        self,
        uow: UnitOfWork,
        subject: Subject,
        scope: ScopeRef,
        text: str,
        *,
        category: str = "",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        by: str = "",
    ) -> Published:
        """``publish`` in the caller's transaction (the chat command)."""
        text = text.strip()
        if not text:
            raise NoticeError("通知内容不能为空")
        if len(text) > MAX_TEXT:
            raise NoticeError(f"通知内容不能超过{MAX_TEXT}字")
        try:
            kind = Category(category or "other")
        except ValueError as e:
            choices = "、".join(c.value for c in Category)
            raise NoticeError(f"未知的通知类别 {category!r}（可选：{choices}）") from e
        for value in (starts_at, ends_at):
            if value is not None and value.tzinfo is None:
                raise NoticeError("时间必须带时区，如 2026-12-08T09:00:00+08:00")
        if starts_at and ends_at and ends_at <= starts_at:
            raise NoticeError("结束时间必须晚于开始时间")
        now = self.clock.now()
        if ends_at is not None and ends_at <= now:
            raise NoticeError("结束时间已过，通知不会再有人看到")
        place = await self.place(uow, scope)
        grids = await grid_tree(uow)
        if not may(subject, Action.PUBLISH_NOTICE, place.target, grids):
            raise NoticeForbidden(f"您无权向“{place.name}”发布通知")
        notice = await uow.notices.add(
            Notice(
                scope=scope.kind,
                scope_id=scope.id,
                street=place.street,
                community_id=place.community_id,
                scope_name=place.name,
                category=kind.value,
                text=text,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=by[:100],
                created_at=now,
            )
        )
        published = Published(notice)
        residents = await uow.notices.residents(
            building_ids=place.building_ids,
            community_ids=None if place.building_ids is not None else place.community_ids,
        )
        ids = [r.id for r in residents if r.id is not None]
        off = await uow.notices.opted_out(ids)
        by_resident: dict[int, list[ChannelIdentity]] = {}
        for identity in await uow.notices.identities(ids):
            # never by text message: a notice is a broadcast, an SMS costs and was given for
            # one report (residents who reported by phone hear of notices once they link a chat)
            if identity.resident_id is not None and identity.reachable and identity.channel != SMS:
                by_resident.setdefault(identity.resident_id, []).append(identity)
        brief = brief_of(notice)
        locales = {r.id: r.locale for r in residents}
        passed = await self._pass_on(uow, place, notice, notice_message(brief, "zh", now), now)
        published.helpers = len(passed)
        for resident_id in ids:
            if resident_id in passed:  # the pass-on note carries the notice itself
                published.recipients += 1
                continue
            if resident_id in off:
                published.opted_out += 1
                continue
            reachable = by_resident.get(resident_id, [])
            if not reachable:
                published.unreachable += 1
                continue
            # their own channel: the one they wrote from last
            identity = max(reachable, key=_last_inbound)
            message = notice_message(brief, locales.get(resident_id, "zh"), now)
            await uow.notices.enqueue(
                notice.id or 0,
                identity.channel,
                identity.user_id,
                outbound_to_dict(message),
                now=now,
            )
            uow.queued += 1
            published.recipients += 1
            published.channels[identity.channel] = published.channels.get(identity.channel, 0) + 1
        notice.recipients = published.recipients
        notice.unreachable = published.unreachable
        notice.opted_out = published.opted_out
        await uow.notices.save(notice)
        return published

    async def _pass_on(
        self, uow: UnitOfWork, place: Place, notice: Notice, message: Outbound, now: datetime
    ) -> set[int]:
        """Building heads and volunteers of the place get the notice with a note to pass it
        on (to neighbours without a phone app). Returns the residents (helpers' own chats)
        reached, who then do not get it a second time."""
        helpers: dict[int, BuildingHelper] = {}
        if place.building_ids is not None:
            for building_id in place.building_ids:
                for h in await uow.people.helpers(building_id=building_id):
                    helpers[h.id or 0] = h
        else:
            for h in await uow.people.helpers(community_ids=list(place.community_ids)):
                helpers[h.id or 0] = h
        if not helpers:
            return set()
        inside = set(place.building_ids) if place.building_ids is not None else None
        homes = await uow.people.buildings_of(list(helpers))
        reached: set[int] = set()
        for helper_id, helper in helpers.items():
            ids = [i for i in homes.get(helper_id, []) if inside is None or i in inside]
            names = [b.name for i in ids if (b := await uow.registry.building(i)) is not None]
            text = t(
                "notice.pass_on",
                "zh",
                role=role_label(helper.role),
                place="、".join(names) or notice.scope_name,
                notice=message.text,
            )
            note = Outbound(text=text, kind=message.kind, data=message.data)
            # not counted with the notice's own deliveries (recipients / sent): see ``helpers``
            sent = await send_to_helper(uow, helper, note, now=now)
            if sent and helper.resident_id is not None:
                reached.add(helper.resident_id)
        return reached

    async def place(self, uow: UnitOfWork, scope: ScopeRef) -> Place:
        """Resolve a scope to its residents' buildings or communities.

        Raises:
            NoticeError: the place does not exist.
        """
        if scope.kind == "building":
            building = await uow.registry.building(scope.id or 0)
            if building is None:
                raise NoticeError(f"没有编号为 {scope.id} 的楼栋")
            community = await uow.registry.community(building.community_id)
            return Place(
                scope,
                f"{_name(community)} {building.name}".strip(),
                building.community_id,
                community.street if community else "",
                PlaceTarget(building.community_id, building.grid_id),
                building_ids=(building.id or 0,),
            )
        if scope.kind == "grid":
            grid = await uow.registry.grid(scope.id or 0)
            if grid is None:
                raise NoticeError(f"没有编号为 {scope.id} 的网格")
            tree = await grid_tree(uow)
            buildings = await uow.registry.buildings(grid.community_id)
            inside = tuple(
                b.id
                for b in buildings
                if b.id is not None and descends(b.grid_id, grid.id or 0, tree)
            )
            community = await uow.registry.community(grid.community_id)
            return Place(
                scope,
                f"{_name(community)} {grid.name}".strip(),
                grid.community_id,
                community.street if community else "",
                PlaceTarget(grid.community_id, grid.id),
                building_ids=inside,
            )
        if scope.kind == "community":
            community = await uow.registry.community(scope.id or 0)
            if community is None:
                raise NoticeError(f"没有编号为 {scope.id} 的社区")
            return Place(
                scope,
                community.name,
                community.id,
                community.street,
                CommunityTarget(community.id),
                community_ids=(community.id or 0,),
            )
        communities = [c for c in await uow.registry.communities() if c.street == scope.street]
        if not communities:
            raise NoticeError(f"没有属于“{scope.street}”的社区")
        street = await uow.streets.by_name(scope.street)
        return Place(
            scope,
            scope.street,
            None,
            scope.street,
            # street staff publish to their own street; with no street row only admins may
            StreetTarget(street.id if street else None),
            community_ids=tuple(c.id for c in communities if c.id is not None),
        )

    # --- reading ----------------------------------------------------------------------------

    async def active_for(
        self, uow: UnitOfWork, *, building_id: int | None, community_id: int | None
    ) -> list[NoticeBrief]:
        """The active notices that reach a resident of this building (or community)."""
        now = self.clock.now()
        building: Building | None = None
        if building_id is not None:
            building = await uow.registry.building(building_id)
            if building is not None:
                community_id = building.community_id
        community = await uow.registry.community(community_id) if community_id else None
        tree = await grid_tree(uow) if building is not None else {}
        found: list[NoticeBrief] = []
        for notice in await uow.notices.live(now):
            if not is_active(notice.starts_at, notice.ends_at, notice.created_at, now):
                continue
            if _reaches(notice, building, community, tree):
                found.append(brief_of(notice))
        return found

    async def listed(
        self,
        *,
        community_ids: Sequence[int] | None,
        streets: Sequence[str] | None = None,
        building_id: int | None = None,
        active_only: bool = False,
        limit: int = 200,
    ) -> list[NoticeRow]:
        """Notices for the console and the API, newest first, with delivery counts."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            if building_id is not None:
                building = await uow.registry.building(building_id)
                if building is None:
                    raise NoticeError(f"没有编号为 {building_id} 的楼栋")
                wanted = {
                    b.id
                    for b in await self.active_for(uow, building_id=building_id, community_id=None)
                }
                rows = [n for n in await uow.notices.live(now) if n.id in wanted]
                if community_ids is not None:
                    rows = [n for n in rows if n.community_id in community_ids]
            else:
                rows = list(
                    await uow.notices.listed(
                        community_ids=community_ids, streets=streets, limit=limit
                    )
                )
            counts = await uow.notices.delivery([n.id or 0 for n in rows])
        result = []
        for notice in rows:
            live = notice.status == "active" and is_active(
                notice.starts_at, notice.ends_at, notice.created_at, now
            )
            if active_only and not live:
                continue
            c = counts.get(notice.id or 0, {})
            result.append(
                NoticeRow(
                    notice,
                    sent=c.get("sent", 0),
                    failed=c.get("dead", 0),
                    pending=c.get("pending", 0),
                    active=live,
                )
            )
        return result

    async def set_subscription(self, uow: UnitOfWork, resident_id: int, *, on: bool) -> None:
        """关闭通知 / 开启通知."""
        await uow.notices.set_opt_out(resident_id, not on, now=self.clock.now())

    async def subscribed(self, uow: UnitOfWork, resident_id: int) -> bool:
        return resident_id not in await uow.notices.opted_out([resident_id])


def brief_of(notice: Notice) -> NoticeBrief:
    return NoticeBrief(
        id=notice.id or 0,
        category=notice.category,
        text=notice.text,
        scope_name=notice.scope_name,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
    )


def notice_message(brief: NoticeBrief, locale: str, now: datetime) -> Outbound:
    """The pushed notice (template fields for WeChat after the 48-hour window in ``data``)."""
    window = window_text(brief.starts_at, brief.ends_at, now)
    label = category_label(brief.category, locale)
    return Outbound(
        text=t("notice.push", locale, label=label, line=brief.line(locale, now)),
        kind="notice",
        data={
            "title": t("notice.title", locale, label=label),
            "number": f"#{brief.id}",
            "status_text": label,
            "category": label,
            "location": brief.scope_name,
            "description": brief.text,
            "time": window,
            "options": t("notice.opt_out_hint", locale),
        },
    )


def _reaches(
    notice: Notice,
    building: Building | None,
    community: Community | None,
    tree: Mapping[int, int | None],
) -> bool:
    if notice.scope == "building":
        return building is not None and notice.scope_id == building.id
    if notice.scope == "grid":
        if building is None or notice.scope_id is None:
            return False
        return descends(building.grid_id, notice.scope_id, tree)
    if notice.scope == "community":
        return community is not None and notice.scope_id == community.id
    if notice.scope == "street":
        return (
            community is not None and bool(community.street) and notice.street == community.street
        )
    return False


def _name(community: Community | None) -> str:
    return community.name if community else ""


def _last_inbound(identity: ChannelIdentity) -> tuple[float, int]:
    last = identity.last_inbound_at
    return (last.timestamp() if last else 0.0, identity.id or 0)
