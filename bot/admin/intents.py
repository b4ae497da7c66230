"""Intents and examples in the console: the running service's intent desk
(``handlers.intent_service``), seeding the database from the packaged Rasa YAML, and the
per-intent F1 of the latest evaluation."""

from __future__ import annotations

import logging
from pathlib import Path

import nlu
from bot.container import Container
from handlers.intent_service import IntentDesk, is_empty, seed

log = logging.getLogger("minhu.admin")

PACKAGED_DATA = Path(__file__).resolve().parent.parent.parent / "nlu" / "data"


async def seed_if_empty(c: Container) -> bool:
    """Load the packaged (or ``MINHU_NLU_DATA``) training data when the database has none."""
    path = c.settings.nlu_data or PACKAGED_DATA
    if not await is_empty(c.store):
        return False
    written = await seed(c.store, c.clock, nlu.load_training_data(path), source=path.name)
    if written is None:
        return False
    log.info("training data seeded into the database: %d intents, %d examples", *written)
    return True


async def last_f1(c: Container) -> dict[str, float]:
    """Per-intent F1 of the latest evaluation: the newest finished training job, else the
    active model's held-out evaluation."""
    async with c.store.unit() as uow:
        for job in await uow.nlu_data.jobs(limit=20):
            per_intent = (job.result or {}).get("per_intent_f1")
            if job.status == "done" and isinstance(per_intent, dict):
                return {str(k): float(v) for k, v in per_intent.items()}
    model = getattr(c.interpreter, "model", None)
    held = (getattr(model, "metadata", {}) or {}).get("held_out") or {}
    return {
        name: float(m.get("f1", 0.0))
        for name, m in dict(held.get("per_intent") or {}).items()
        if isinstance(m, dict)
    }


def desk(c: Container) -> IntentDesk:
    async def f1() -> dict[str, float]:
        return await last_f1(c)

    return IntentDesk(c.store, c.clock, min_examples=c.settings.admin.min_examples, f1=f1)
