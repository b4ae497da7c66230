"""The admin console: accounts and roles, tickets, registry, intents and training, review,
dashboard — Chinese web pages under ``/admin`` and the JSON API under ``/api/v1``.

``install(app)`` adds the routes and error handlers; ``start(container)`` runs at startup
(demo account, seeding the training data into the database, tidying interrupted jobs).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger("minhu.admin")


def install(app: FastAPI) -> None:
    from bot.admin import (
        routes_accounts,
        routes_dashboard,
        routes_deliveries,
        routes_helpers,
        routes_hotspots,
        routes_inbox,
        routes_intents,
        routes_notices,
        routes_people,
        routes_registry,
        routes_review,
        routes_street,
        routes_tickets,
        routes_training,
    )
    from bot.admin.errors import AdminProblem
    from bot.admin.web import LoginRequired, login_required_response, problem_response

    for module in (
        routes_accounts,
        routes_dashboard,
        routes_tickets,
        routes_inbox,
        routes_people,
        routes_registry,
        routes_intents,
        routes_training,
        routes_review,
        routes_deliveries,
        routes_notices,
        routes_hotspots,
        routes_street,
        routes_helpers,
    ):
        app.include_router(module.router)
    app.add_exception_handler(AdminProblem, problem_response)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, login_required_response)  # type: ignore[arg-type]


async def start(container: Container) -> None:
    from bot.admin.accounts import DEMO_USERNAME, ensure_demo_admin
    from bot.admin.intents import seed_if_empty

    await seed_if_empty(container)
    settings = container.settings
    if settings.loads_demo and await ensure_demo_admin(
        container.store, env=settings.env, now=container.clock.now()
    ):
        log.info("demo console account %r created (see README; not in prod)", DEMO_USERNAME)
