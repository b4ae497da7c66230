"""GET /metrics: Prometheus text that moves when messages flow, behind a token in production."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and labels (parsed, not grepped)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(app: Any) -> str:
    response = await app.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


async def test_message_counters_and_latency_move_when_residents_write(start_app: Any) -> None:
    async with start_app(metrics_token=TOKEN) as app:
        before = await scrape(app)
        await app.say("m-resident-1", "3幢电梯坏了，困在里面了")
        body = {"user_id": "m-resident-2", "text": "你好", "message_id": "m-dup-1"}
        assert (await app.client.post("/api/v1/messages", json=body)).status_code == 200
        assert (await app.client.post("/api/v1/messages", json=body)).status_code == 200
        after = await scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("minhu_messages_total", channel="web", outcome="handled") == 2
    assert moved("minhu_messages_total", channel="web", outcome="duplicate") == 1
    assert moved("minhu_reply_seconds_count", channel="web") == 2
    assert moved("minhu_reply_seconds_sum", channel="web") > 0
    assert moved("minhu_nlu_seconds_count") == 2
    # the database's state: the urgent lift report is a ticket with SLA clocks running
    assert sum(v for (name, _), v in samples(after).items() if name == "minhu_tickets") == 1
    assert value(after, "minhu_sla_clocks", kind="accept", status="pending") == 1
    for name in (
        "minhu_outbox_items",
        "minhu_outbox_oldest_pending_seconds",
        "minhu_dead_letters",
        "minhu_sla_clocks_due",
        "minhu_sla_breached",
        "minhu_nlu_fallback_total",
        "minhu_redis_outages_total",
    ):
        assert re.search(rf"^# TYPE {name.removesuffix('_total')}(_total)? ", after, re.M), name


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_metrics_need_the_bearer_token_when_one_is_set(start_app: Any) -> None:
    async with start_app(metrics_token=TOKEN) as app:
        anonymous = await app.client.get("/metrics")
        wrong = await app.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert anonymous.status_code == wrong.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert "minhu_" not in anonymous.text + wrong.text


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_metrics_are_open_in_dev_without_a_token(start_app: Any) -> None:
    async with start_app() as app:
        response = await app.client.get("/metrics")
        assert response.status_code == 200 and "minhu_outbox_items" in response.text


def test_counts_of_worker_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """What `minhu serve --workers N` relies on: any worker's scrape sums all of them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from bot.metrics import PrometheusMetrics; "
        "PrometheusMetrics().message('web', 'handled', 0.2)"
    )
    for _ in range(2):  # two worker processes, one message each
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    scrape = (
        "import sys; from bot.metrics import exposition; from storage.observability import "
        "Snapshot; sys.stdout.write(exposition(Snapshot({}, 0.0, {}, {}, 0)).decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", scrape],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert value(text, "minhu_messages_total", channel="web", outcome="handled") == 2
    assert value(text, "minhu_reply_seconds_count", channel="web") == 2
    assert value(text, "minhu_outbox_items", status="dead") == 0  # the database part is there


@pytest.mark.parametrize(
    ("token", "header", "allowed"),
    [
        (None, "", False),  # prod without a token: no metrics at all (404)
        (TOKEN, "", False),
        (TOKEN, f"Bearer {TOKEN}x", False),
        (TOKEN, f"Bearer {TOKEN}", True),
    ],
)
def test_in_prod_metrics_are_served_only_with_the_configured_token(
    token: str | None, header: str, allowed: bool
) -> None:
    from types import SimpleNamespace

    from pydantic import SecretStr
    from starlette.requests import Request

    from bot.config import Settings
    from bot.metrics_route import _allowed

    settings = Settings(env="prod", secret_key=SecretStr("k" * 64), metrics_token=token)
    headers = [(b"authorization", header.encode())] if header else []
    request = Request({"type": "http", "headers": headers, "method": "GET", "path": "/metrics"})
    assert _allowed(request, SimpleNamespace(settings=settings)) is allowed  # type: ignore[arg-type]
