"""The benchmarks still run: bench/city.py and bench/load.py at a tiny scale (seconds each).

The figures themselves are not checked (the machine is shared): every one must be printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CITY_FIGURES = [
    "registry load + index",
    "registry unchanged (digest)",
    "building match, own community",
    "building match, '<小区>3幢'",
    "no community: '3幢' (choices)",
    "routing",
    "ticket creation (file + route)",
    "dashboard, whole city (30 days)",
    "dashboard, one community",
    "ticket list: community + open",
    "ticket search",
    "ticket search, one community",
    "Open311 requests.json",
    "Open311 requests/{id}.json",
    "SLA sweep (",
    "SLA sweep, nothing due",
]
NUMBER = r"\s+\d+\s+\d+\.\d\d\s+\d+\.\d\d\s"


def run(args: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_city_benchmark_prints_every_figure_at_a_tiny_scale(postgres_url: str) -> None:
    env = dict(os.environ, MINHU_DATABASE_URL=postgres_url)
    name = f"minhu_city_smoke_{uuid.uuid4().hex[:8]}"
    out = run(["bench/city.py", "--scale", "0.0005", "--runs", "8", "--database", name], env, 300)
    assert "generated in" in out and "load average after" in out
    for figure in CITY_FIGURES:
        assert re.search(re.escape(figure) + r".*?" + NUMBER, out), f"{figure!r} missing:\n{out}"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_load_benchmark_prints_every_figure_briefly(
    postgres_url: str, redis_url: str, trained_models: Path
) -> None:
    env = dict(
        os.environ,
        MINHU_DATABASE_URL=postgres_url,
        MINHU_REDIS_URL=redis_url,
        MINHU_MODEL_DIR=str(trained_models),
    )
    args = ["bench/load.py", "--duration", "1", "--connections", "4", "--workers", "1"]
    out = run([*args, "--burst", "20"], env, 300)
    assert re.search(r"echo app \(1 process\)\s+\d+\.\d req/s", out), out
    assert re.search(r"webhook \(1 process\)\s+\d+\.\d msg/s .* errors \d+", out), out
    assert re.search(r"burst of 20 at once .*: \d+ replies after 5 s", out), out
