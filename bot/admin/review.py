"""The review inbox in the console: the running service's review desk
(``handlers.review_service``) with the interpreter's clarify threshold."""

from __future__ import annotations

from bot.admin.intents import desk as intent_desk
from bot.container import Container
from handlers.review_service import ReviewDesk


def desk(c: Container) -> ReviewDesk:
    return ReviewDesk(
        c.store, c.clock, intent_desk(c), clarify_threshold=c.interpreter.thresholds.clarify
    )
