"""Heavy work in its own process: the result and progress come back, errors keep their kind,
and the event loop keeps running while the child burns CPU."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from bot.jobs import JobError, run_in_process


def count_primes(limit: int, *, progress: Callable[[str, float], None]) -> int:
    found = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            found += 1
        if n % (limit // 4) == 0:
            progress("sieve", n / limit)
    return found


def refuse(reason: str, *, progress: Callable[[str, float], None]) -> None:
    progress("start", 0.0)
    raise ValueError(reason)


async def test_a_cpu_bound_job_returns_its_result_and_progress_without_stalling_the_loop() -> None:
    seen: list[tuple[str, float]] = []
    gaps: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop))
    result = await run_in_process(count_primes, 100_000, progress=lambda s, f: seen.append((s, f)))
    stop.set()
    await tick
    assert result == 9_592
    assert [s for s, _ in seen] == ["sieve"] * 3 and seen[-1][1] == pytest.approx(0.75, 0.01)
    # in a thread this loop would stall for most of the run; here it stays responsive
    assert sorted(gaps)[int(len(gaps) * 0.95)] < 0.25, max(gaps)


async def test_an_error_in_the_job_comes_back_with_its_kind_and_message() -> None:
    with pytest.raises(JobError) as raised:
        await run_in_process(refuse, "坏数据", progress=lambda s, f: None)
    assert (
        raised.value.kinds[:2] == ("ValueError", "Exception") and raised.value.message == "坏数据"
    )
