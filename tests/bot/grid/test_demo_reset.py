"""`minhu demo --reset` after a day of use: notices, opt-outs, handoffs and hotspots point at
residents, buildings and staff, and the reset must still rebuild the demo (it failed on a
foreign key before)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from storage.models import Handoff, Notice, NoticeOptOut
from tests.bot.grid.test_notices import TOMORROW, ids, settle, staff_client
from tests.bot.test_chat_api import file_report
from tests.factories import FakeClock

pytestmark = pytest.mark.slow


async def rows(app: Any, table: Any) -> int:
    async with app.container.database.session() as session:
        return int(
            (await session.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        )


async def test_the_demo_resets_after_notices_handoffs_and_opt_outs(start_app: Any) -> None:
    from bot.demo import load_demo

    async with start_app(clock=FakeClock(), sla={"sweep_seconds": 3600}) as app:
        await settle(app, ["r-5a"])
        place = await ids(app)
        async with await staff_client(app) as client:
            created = await client.post(
                "/api/v1/notices",
                json={"scope": {"building": place["5幢"]}, "text": "停水", **TOMORROW},
            )
            assert created.status_code == 201, created.text
        await app.say("r-5a", "关闭通知")
        await app.say("r-5a", "转人工")
        await app.say("r-5a", "13812345678")  # the phone the bot asks for first
        assert await rows(app, Handoff) == 1 and await rows(app, NoticeOptOut) == 1
        assert await rows(app, Notice) == 1

        await load_demo(app.container.store, reset=True)
        app.container.service.invalidate_registry()

        assert await rows(app, Handoff) == await rows(app, Notice) == 0
        async with app.container.store.unit() as uow:
            assert {b.name for b in await uow.registry.buildings()} >= {"5幢", "6幢"}
        number = await file_report(app, "r-new", "6幢楼道灯不亮了", building="6幢")
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.building_id is not None
            building = await uow.registry.building(ticket.building_id)
        assert building is not None and building.name == "6幢"
