"""The review inbox (I/O): messages the bot misunderstood or was unsure about, to label.

Three sources, newest first, each item once (until labelled or dismissed):

* ``unsure`` — a resident's message whose top intent was below the clarify threshold or
  out of scope;
* ``clarified`` — a ticket whose category the resident picked in a clarification, different
  from what the NLU guessed (``ticket.extra.nlu_intent``);
* ``recategorised`` — a ticket whose category staff or a worker corrected.

Labelling *promotes* the text to training data: masked (phone numbers and other personal
data, ``handlers.privacy``) and added as a plain example of the chosen intent, in the same
transaction as the decision and its audit entry. Staff see and label only their own
community's items (``handlers.permissions``: ``review``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.flows import FLOWS, flow_for_category
from handlers.guards import require_some
from handlers.intent_service import IntentDesk
from handlers.permissions import Action, communities_for
from handlers.ports import Clock
from handlers.privacy import mask_text
from storage.admin_types import TicketFilter
from storage.errors import DuplicateError
from storage.interfaces import Store, UnitOfWork
from storage.models import InboundMessage, ReviewDecision, Ticket

WINDOW = timedelta(days=30)
LIMIT = 200
KIND_LABELS = {"unsure": "识别不确定", "clarified": "居民改选类别", "recategorised": "人工改类别"}
_TRIVIAL = re.compile(r"^[\d\s\W_]*$")


@dataclass(slots=True)
class ReviewItem:
    source: str  # inbound | ticket
    id: int
    kind: str  # unsure | clarified | recategorised
    text: str
    at: datetime
    guess: str  # what the NLU said
    confidence: float | None
    suggestion: str  # the intent the evidence points to ("" if none)
    ticket: str = ""  # ticket number, for ticket items
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "id": self.id,
            "kind": self.kind,
            "kind_label": KIND_LABELS[self.kind],
            "text": self.text,
            "at": self.at.isoformat(),
            "guess": self.guess,
            "confidence": self.confidence,
            "suggestion": self.suggestion,
            "ticket": self.ticket,
            "note": self.note,
        }


class LabelIn(BaseModel):
    intent: str = Field(min_length=1, max_length=60)


def _intent_of_category(category: str) -> str:
    flow = flow_for_category(category)
    return flow.intent if flow else ""


def _inbound_text(row: InboundMessage) -> str:
    payload = row.payload or {}
    return str(payload.get("text") or "").strip()


def _worth_reviewing(text: str) -> bool:
    # digits, a phone number, "好", punctuation: answers to a question, nothing to learn from
    return len(text) >= 2 and not _TRIVIAL.match(text)


def _ticket_item(ticket: Ticket, kind: str, note: str = "") -> ReviewItem:
    extra = ticket.extra or {}
    confidence = extra.get("nlu_confidence")
    return ReviewItem(
        source="ticket",
        id=ticket.id or 0,
        kind=kind,
        text=mask_text(ticket.description.strip()),
        at=ticket.created_at,
        guess=str(extra.get("nlu_intent", "")),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        suggestion=_intent_of_category(ticket.category),
        ticket=ticket.number,
        note=note,
    )


def _clarified(ticket: Ticket) -> bool:
    """The resident chose a category other than the one the NLU (a flow intent) guessed."""
    guess = str((ticket.extra or {}).get("nlu_intent", ""))
    if not guess:
        return False
    if guess not in FLOWS and guess != "out_of_scope":
        return False  # an intent without a flow is filed as "other" on purpose
    return guess != _intent_of_category(ticket.category)


class ReviewDesk:
    """The review inbox of a console account.

    Args:
        store: units of work over the database.
        clock: the time source.
        intents: where labelled texts become examples.
        clarify_threshold: below this confidence the NLU was unsure.
    """

    def __init__(
        self, store: Store, clock: Clock, intents: IntentDesk, *, clarify_threshold: float
    ) -> None:
        self.store = store
        self.clock = clock
        self.intents = intents
        self.clarify_threshold = clarify_threshold

    async def inbox(self, p: Principal) -> list[ReviewItem]:
        require_some(p.subject, Action.REVIEW)
        now = self.clock.now()
        since = now - WINDOW
        scope = communities_for(p.subject, Action.REVIEW)
        threshold = self.clarify_threshold
        items: list[ReviewItem] = []
        async with self.store.unit() as uow:
            f = TicketFilter(community_ids=scope, created_from=since)
            recategorised = await uow.ticket_queries.recategorised(f, limit=LIMIT)
            seen_tickets: set[int] = set()
            for ticket, event in recategorised:
                seen_tickets.add(ticket.id or 0)
                item = _ticket_item(ticket, "recategorised", f"{event.actor_name}：{event.note}")
                item.at = event.at
                items.append(item)
            tickets, _ = await uow.ticket_queries.search(f, limit=1000)
            for ticket in tickets:
                if ticket.id not in seen_tickets and _clarified(ticket):
                    items.append(_ticket_item(ticket, "clarified"))
            texts: set[str] = set()
            for row in await uow.ticket_queries.unsure_inbound(
                threshold=threshold, since=since, community_ids=scope, limit=LIMIT * 2
            ):
                text = mask_text(_inbound_text(row))
                if not _worth_reviewing(text) or text in texts:
                    continue
                texts.add(text)
                items.append(
                    ReviewItem(
                        source="inbound",
                        id=row.id or 0,
                        kind="unsure",
                        text=text,
                        at=row.received_at,
                        guess=row.intent,
                        confidence=row.confidence,
                        suggestion="" if row.intent == "out_of_scope" else row.intent,
                    )
                )
            decided = await uow.admin.decided(
                "ticket", [i.id for i in items if i.source == "ticket"]
            )
            decided_inbound = await uow.admin.decided(
                "inbound", [i.id for i in items if i.source == "inbound"]
            )
        kept = [
            i
            for i in items
            if (i.id not in decided if i.source == "ticket" else i.id not in decided_inbound)
            and i.text
        ]
        kept.sort(key=lambda i: i.at, reverse=True)
        return kept[:LIMIT]

    async def _item(self, uow: UnitOfWork, p: Principal, source: str, item_id: int) -> str:
        """The text of one item, if the principal may see it (re-read: never trust the client)."""
        scope = communities_for(p.subject, Action.REVIEW)
        if source == "ticket":
            ticket = await uow.tickets.get(item_id)
            if ticket is None or (scope is not None and ticket.community_id not in scope):
                raise NotFound("没有这条待审核内容")
            return mask_text(ticket.description.strip())
        if source == "inbound":
            row = await uow.inbound.get(item_id)
            if row is None:
                raise NotFound("没有这条待审核内容")
            if scope is not None:
                ident = await uow.registry.identity(row.channel, row.user_id)
                resident = (
                    await uow.registry.resident(ident.resident_id)
                    if ident is not None and ident.resident_id is not None
                    else None
                )
                if resident is None or resident.community_id not in scope:
                    raise NotFound("没有这条待审核内容")
            return mask_text(_inbound_text(row))
        raise NotFound("未知来源")

    async def _community_of(
        self, uow: UnitOfWork, p: Principal, source: str, item_id: int
    ) -> int | None:
        """The community whose resident said the item (its example stays theirs)."""
        if source == "ticket":
            ticket = await uow.tickets.get(item_id)
            return ticket.community_id if ticket is not None else p.community_id
        row = await uow.inbound.get(item_id)
        if row is not None:
            ident = await uow.registry.identity(row.channel, row.user_id)
            if ident is not None and ident.resident_id is not None:
                resident = await uow.registry.resident(ident.resident_id)
                if resident is not None and resident.community_id is not None:
                    return resident.community_id
        return p.community_id

    async def label(
        self, p: Principal, source: str, item_id: int, intent: str, *, ip: str = ""
    ) -> dict[str, Any]:
        """Add the item's text to an intent's examples and take it out of the inbox."""
        require_some(p.subject, Action.REVIEW)
        now = self.clock.now()
        try:
            async with self.store.unit() as uow:
                text = await self._item(uow, p, source, item_id)
                if not text:
                    raise InvalidInput("这条消息没有文字，不能作为例句")
                if await uow.admin.decision(source, item_id) is not None:
                    raise Conflict("这条内容已经审核过了")
                result = await self.intents.add_examples(
                    p,
                    intent,
                    [text],
                    source="review",
                    ip=ip,
                    uow=uow,
                    plain=True,
                    community_id=await self._community_of(uow, p, source, item_id),
                )
                await uow.admin.add_decision(
                    ReviewDecision(
                        source=source,
                        source_id=item_id,
                        action="labelled",
                        intent=intent,
                        example_id=result.added[0] if result.added else None,
                        by=p.username,
                        at=now,
                    )
                )
                await audit_service.record(
                    uow,
                    p,
                    "review.label",
                    now=now,
                    target_type=source,
                    target_id=item_id,
                    summary=f"标为 {intent}：{text[:100]}",
                    after={"intent": intent, "added": bool(result.added)},
                    ip=ip,
                )
        except DuplicateError as e:
            raise Conflict("这条内容已经审核过了") from e
        return {"intent": intent, "added": bool(result.added), "warnings": result.warnings}

    async def dismiss(self, p: Principal, source: str, item_id: int, *, ip: str = "") -> None:
        require_some(p.subject, Action.REVIEW)
        now = self.clock.now()
        try:
            async with self.store.unit() as uow:
                text = await self._item(uow, p, source, item_id)
                if await uow.admin.decision(source, item_id) is not None:
                    raise Conflict("这条内容已经审核过了")
                await uow.admin.add_decision(
                    ReviewDecision(
                        source=source, source_id=item_id, action="dismissed", by=p.username, at=now
                    )
                )
                await audit_service.record(
                    uow, p, "review.dismiss", now=now, target_type=source, target_id=item_id,
                    summary=text[:100], ip=ip,
                )  # fmt: skip
        except DuplicateError as e:
            raise Conflict("这条内容已经审核过了") from e
