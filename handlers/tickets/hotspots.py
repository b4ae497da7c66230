"""Hotspot alerts (I/O): after every report (a new ticket, or a neighbour reporting the same
problem again), the recent reports of its community are grouped (``handlers.hotspots``); a
group that crosses a threshold for the first time in its window alerts the grid leader and the
community staff in their chat and shows up on the console and ``GET /api/v1/hotspots``.
"""

from __future__ import annotations

from datetime import datetime

from handlers.flows import category_label
from handlers.hotspots import Group, HotspotPolicy, Report, groups_for
from handlers.i18n import t
from handlers.messages import Outbound
from handlers.ports import Clock
from handlers.sla import escalation_targets
from handlers.tickets.common import log, scoped_snapshot
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Hotspot, Ticket


def report_of(ticket: Ticket, at: datetime | None = None) -> Report:
    return Report(
        number=ticket.number,
        category=ticket.category,
        text=ticket.description,
        at=at if at is not None else ticket.created_at,
        community_id=ticket.community_id,
        grid_id=ticket.grid_id,
        building_id=ticket.building_id,
        latitude=ticket.latitude,
        longitude=ticket.longitude,
    )


class Hotspots:
    """Finds hotspots as reports arrive and alerts supervisors once per hotspot.

    Args:
        clock: the time source.
        policy: thresholds, radius and text similarity.
        notify: the messages to leaders and staff.
    """

    def __init__(self, clock: Clock, policy: HotspotPolicy, notify: Notifications) -> None:
        self.clock = clock
        self.policy = policy
        self.notify = notify

    async def after_report(self, uow: UnitOfWork, ticket: Ticket) -> list[Hotspot]:
        """A report about ``ticket`` just arrived: returns the hotspots it made (or grew)."""
        if not self.policy.enabled or not self.policy.rules:
            return []
        now = self.clock.now()
        since = now - self.policy.longest
        tickets = await uow.hotspots.recent_tickets(ticket.community_id, since)
        reports = [report_of(tk) for tk in tickets]
        by_id = {tk.id: tk for tk in tickets}
        for follow in await uow.hotspots.follows_since([tk.id or 0 for tk in tickets], since):
            followed = by_id.get(follow.ticket_id)
            if followed is not None:
                reports.append(report_of(followed, follow.created_at))
        newest = report_of(ticket, now)
        hot: list[Hotspot] = []
        for group in groups_for(
            newest,
            reports,
            self.policy.rules,
            radius_m=self.policy.radius_m,
            similarity=self.policy.similarity,
        ):
            if group.hot:
                hot.append(await self._record(uow, group, ticket))
        return hot

    async def _record(self, uow: UnitOfWork, group: Group, ticket: Ticket) -> Hotspot:
        now = self.clock.now()
        latest = await uow.hotspots.latest(group.key)
        if latest is not None and latest.last_at >= now - group.rule.window:
            latest.count = len(group.reports)
            latest.numbers = list(group.numbers)
            latest.last_at = now
            return await uow.hotspots.save(latest)
        place = ticket.building_name if group.rule.place == "building" else ""
        if group.rule.place == "grid" and group.grid_id is not None:
            grid = await uow.registry.grid(group.grid_id)
            place = grid.name if grid else ""
        hotspot = await uow.hotspots.save(
            Hotspot(
                key=group.key,
                rule=group.rule.place,
                community_id=group.community_id,
                grid_id=group.grid_id,
                building_id=group.building_id,
                place=place or "-",
                category=group.category,
                count=len(group.reports),
                numbers=list(group.numbers),
                first_at=group.reports[0].at,
                last_at=now,
                alerted_at=now,
            )
        )
        hotspot.alerted = await self._alert(uow, hotspot, group, ticket)
        return await uow.hotspots.save(hotspot)

    async def _alert(
        self, uow: UnitOfWork, hotspot: Hotspot, group: Group, ticket: Ticket
    ) -> list[str]:
        snapshot = await scoped_snapshot(
            uow, community_id=group.community_id, grid_id=group.grid_id
        )
        told: dict[int, str] = {}
        for level in (1, 2):  # the grid leader, and community staff
            _, targets = escalation_targets(
                level,
                grid_id=group.grid_id,
                community_id=group.community_id,
                grids=snapshot.grids,
                workers=snapshot.workers,
            )
            told.update({w.id: w.name for w in targets})
        hours = int(group.rule.window.total_seconds() // 3600)
        text = t(
            "hotspot.alert",
            "zh",
            place=hotspot.place,
            hours=hours,
            count=hotspot.count,
            category=category_label(hotspot.category),
            numbers="、".join(hotspot.numbers[:10]),
        )
        for worker_id in told:
            await self.notify.push_to_worker(
                uow,
                worker_id,
                Outbound(
                    text=text,
                    kind="worker_notice",
                    data={"number": ticket.number, "hotspot": str(hotspot.id)},
                ),
                ticket,
            )
        log.info("hotspot %s: %s reports, told %s", hotspot.key, hotspot.count, len(told))
        return list(told.values())
