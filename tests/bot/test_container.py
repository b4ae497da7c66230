"""The container's background tasks: tracked while running, forgotten once done."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest


async def test_finished_tasks_are_forgotten_and_their_errors_logged(
    start_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_app() as app:
        c = app.container
        before = set(c.tasks)  # the long-running ones: outbox, SLA sweeper, model watch …
        assert before and all(not t.done() for t in before)
        gate = asyncio.Event()

        async def wait() -> None:
            await gate.wait()

        async def fail() -> None:
            raise RuntimeError("boom in a background task")

        waiting = [c.spawn(wait(), f"wait-{i}") for i in range(200)]
        assert set(waiting) <= c.tasks
        gate.set()
        await asyncio.gather(*waiting)
        with caplog.at_level(logging.ERROR, logger="minhu"):
            failed = c.spawn(fail(), "failing")
            await asyncio.wait([failed])
            await asyncio.sleep(0)  # done callbacks run on the next loop turn
        assert c.tasks == before  # 201 finished tasks left nothing behind
        assert any(
            "failing" in r.getMessage() and r.exc_info and "boom" in str(r.exc_info[1])
            for r in caplog.records
        )
        stuck = c.spawn(asyncio.sleep(3600), "stuck")
    assert stuck.cancelled()  # shutdown cancels what still runs
    assert not c.tasks
