"""Prometheus metrics (``prometheus_client``): what ``GET /metrics`` exposes.

Two kinds of numbers:

- **events counted by each process** (messages in, reply and NLU latency, NLU fallbacks, SLA
  sweeps, Redis outages): ``prometheus_client`` counters and histograms. With
  ``minhu serve --workers N`` each worker process writes them to files in
  ``PROMETHEUS_MULTIPROC_DIR`` (``serve`` sets one up) and a scrape of any worker adds up
  all of them, so one scrape per replica sees the whole replica;
- **state of the shared database** (outbox depth and age, dead letters, tickets by status,
  SLA clocks due/fired/breached): read at scrape time (``storage.observability``), the same
  from every replica.

The metric objects are module-level because that is how ``prometheus_client`` works (a
process has one set of counters, and multi-process mode maps them to its files); they live
in their own registry, never the library's global one. Tests read deltas.

Access (bot/metrics_route.py): ``/metrics`` tells how busy the service is and how many
tickets and failures there are (no personal data), so it is for the operators' Prometheus
only: with ``MINHU_METRICS_TOKEN`` set a request needs ``Authorization: Bearer <token>``;
without it, only outside prod (``minhu doctor`` warns, and in prod /metrics answers 404).
The reverse proxy never routes /metrics (docker/nginx.conf); Prometheus scrapes the
replicas directly on the internal network.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.observability import Snapshot
from storage.session_sql import StoreHealth

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PROCESS = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "minhu_messages",
    "Inbound messages by channel and outcome (handled, failed, duplicate, rate_limited).",
    ["channel", "outcome"],
    registry=PROCESS,
)
REPLY_SECONDS = Histogram(
    "minhu_reply_seconds",
    "From the start of a message's handling to its replies (outcome handled or failed).",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 10.0),
    registry=PROCESS,
)
NLU_SECONDS = Histogram(
    "minhu_nlu_seconds",
    "NLU parse time per message (the local model, or Rasa with the local model standing in).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=PROCESS,
)
NLU_ANSWERS = Counter(
    "minhu_nlu_answers",
    "Messages parsed with an external Rasa configured, by who answered (rasa, local).",
    ["backend"],
    registry=PROCESS,
)
NLU_FALLBACK = Counter(
    "minhu_nlu_fallback",
    "Messages the local model answered because Rasa failed, was slow or was skipped.",
    registry=PROCESS,
)
SLA_SWEPT = Counter(
    "minhu_sla_swept_clocks",
    "SLA clocks the sweeps claimed, by result (fired, skipped, lost, failed).",
    ["result"],
    registry=PROCESS,
)
REDIS_OUTAGES = Counter("minhu_redis_outages", "Times Redis became unreachable.", registry=PROCESS)
REDIS_FALLBACK_CALLS = Counter(
    "minhu_redis_fallback_calls",
    "Conversation-state calls the database served while Redis was down.",
    registry=PROCESS,
)


class PrometheusMetrics:
    """``handlers.ports.MessageMetrics`` for the service."""

    def message(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        MESSAGES.labels(channel, outcome).inc()
        if seconds is not None:
            REPLY_SECONDS.labels(channel).observe(seconds)

    def parsed(self, seconds: float) -> None:
        NLU_SECONDS.observe(seconds)


class CountedHealth(StoreHealth):
    """The Redis failover's health record, whose counts also go to Prometheus."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("outages", "fallback_calls") and isinstance(value, int):
            delta = value - int(getattr(self, name, 0))
            if delta > 0:
                (REDIS_OUTAGES if name == "outages" else REDIS_FALLBACK_CALLS).inc(delta)
        super().__setattr__(name, value)


def prepare_multiprocess() -> Path:
    """Before forking workers: an empty ``PROMETHEUS_MULTIPROC_DIR`` they all write to.

    Stale files of an earlier run would add old counts, so the directory is emptied; an
    operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used (and emptied) the same way.
    """
    given = os.environ.get(MULTIPROC_ENV)
    # never a directory shared with another replica (their files would mix): a fresh one
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="minhu-prometheus-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


class _SharedState(Collector):
    """Gauges of the shared database, read just before the scrape."""

    def __init__(self, numbers: Snapshot) -> None:
        self.numbers = numbers

    def collect(self) -> Iterable[Metric]:
        n = self.numbers
        outbox = GaugeMetricFamily(
            "minhu_outbox_items",
            "Outbox items by status (dead: not delivered in the horizon).",
            labels=["status"],
        )
        for status in sorted({"pending", "sent", "dead", "rerouted", *n.outbox}):
            outbox.add_metric([status], n.outbox.get(status, 0))
        yield outbox
        yield GaugeMetricFamily(
            "minhu_outbox_oldest_pending_seconds",
            "Age of the oldest outbox item still waiting to be delivered.",
            value=n.oldest_pending_seconds,
        )
        yield GaugeMetricFamily(
            "minhu_dead_letters",
            "Outbox items given up after the delivery horizon.",
            value=n.outbox.get("dead", 0),
        )
        tickets = GaugeMetricFamily("minhu_tickets", "Tickets by status.", labels=["status"])
        for status, count in sorted(n.tickets.items()):
            tickets.add_metric([status], count)
        yield tickets
        clocks = GaugeMetricFamily(
            "minhu_sla_clocks",
            "SLA clocks by kind and status (pending, fired, cancelled, failed).",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(n.clocks.items()):
            clocks.add_metric([kind, status], count)
        yield clocks
        yield GaugeMetricFamily(
            "minhu_sla_clocks_due",
            "Pending SLA clocks whose time has come (not swept yet).",
            value=n.clocks_due,
        )
        yield GaugeMetricFamily(
            "minhu_sla_breached",
            "Deadline clocks fired: tickets not accepted, resolved or called back in time.",
            value=n.breached,
        )


def exposition(numbers: Snapshot) -> bytes:
    """The whole Prometheus text: this replica's processes plus the shared database."""
    if os.environ.get(MULTIPROC_ENV):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)  # type: ignore[no-untyped-call]
    else:
        events = PROCESS
    shared = CollectorRegistry(auto_describe=True)
    shared.register(_SharedState(numbers))
    return generate_latest(events) + generate_latest(shared)
