"""The SLA sweep loop of one process (several processes may run it side by side).

Turns the settings into the lifecycle policies and runs ``SlaSweeper.run_once`` every few
seconds; the sweeper itself makes sure each clock fires once across all processes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.config import Settings
from bot.metrics import SLA_SWEPT
from handlers.duplicates import DuplicatePolicy
from handlers.hotspots import HotspotPolicy, Rule
from handlers.open311 import Open311Policy
from handlers.sla import DEFAULT_TARGETS, SlaPolicy, SlaTarget
from handlers.sla_service import SlaSweeper
from handlers.ticket_service import LifecycleConfig

log = logging.getLogger("minhu.sla")


def _target(
    default: SlaTarget, accept_minutes: float | None, resolve_hours: float | None
) -> SlaTarget:
    return SlaTarget(
        accept=timedelta(minutes=accept_minutes) if accept_minutes else default.accept,
        resolve=timedelta(hours=resolve_hours) if resolve_hours else default.resolve,
    )


def lifecycle_config(settings: Settings) -> LifecycleConfig:
    """The SLA, duplicate and Open311 policies from the settings (defaults filled in)."""
    sla = settings.sla
    targets = {
        priority: _target(
            DEFAULT_TARGETS[priority],
            getattr(sla, priority).accept_minutes,
            getattr(sla, priority).resolve_hours,
        )
        for priority in ("urgent", "high", "normal", "low")
    }
    categories = {
        category: {
            priority: _target(
                targets.get(priority, targets["normal"]), value.accept_minutes, value.resolve_hours
            )
            for priority, value in by_priority.items()
        }
        for category, by_priority in sla.categories.items()
    }
    return LifecycleConfig(
        sla=SlaPolicy(
            targets=targets,
            categories=categories,
            remind_at=sla.remind_at,
            rating_timeout=timedelta(hours=sla.rating_timeout_hours),
            overdue_step=timedelta(hours=sla.overdue_step_hours),
            always_on=frozenset(sla.always_on),
            callback=timedelta(minutes=sla.callback_minutes),
        ),
        duplicates=DuplicatePolicy(
            enabled=settings.duplicates.enabled,
            radius_m=dict(settings.duplicates.radius_m),
            exclude=frozenset(settings.duplicates.exclude),
        ),
        hotspots=HotspotPolicy(
            enabled=settings.hotspots.enabled,
            rules=tuple(
                Rule(place, count, timedelta(hours=hours))
                for place, count, hours in (
                    (
                        "building",
                        settings.hotspots.building_count,
                        settings.hotspots.building_hours,
                    ),
                    ("grid", settings.hotspots.grid_count, settings.hotspots.grid_hours),
                )
                if count > 0
            ),
            radius_m=settings.hotspots.radius_m,
            similarity=settings.hotspots.similarity,
        ),
        open311=Open311Policy(
            jurisdiction_id=settings.open311.jurisdiction_id,
            withhold_description=frozenset(settings.open311.withhold_description),
        ),
    )


async def sweep_forever(sweeper: SlaSweeper, poll_seconds: float) -> None:
    """Sweep, sleep, repeat; an error is logged and the next sweep tries again."""
    while True:
        try:
            done = await sweeper.run_once()
            for result in ("fired", "skipped", "lost", "failed"):
                if count := getattr(done, result):
                    SLA_SWEPT.labels(result).inc(count)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("SLA sweep failed; retrying after %.1f s", poll_seconds)
        await asyncio.sleep(poll_seconds)
