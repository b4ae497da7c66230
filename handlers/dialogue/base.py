"""One step's working set, shared by every stage: the message, its parse, the context, the turn.

A stage is a function ``(step, …) -> None`` that reads ``step.msg``/``step.parse``/``step.ctx``
and changes ``step.turn`` (its state, replies and actions). ``Step`` itself only holds what
every stage needs: speaking, resetting the conversation, and reading the parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers.dialogue.types import DialogueConfig, DialogueState, ResidentContext, Turn
from handlers.dialogue.words import SKIP_WORDS, word_key
from handlers.flows import FALLBACK_FLOW, ReportFlow
from handlers.messages import Button, Inbound, Outbound
from nlu.types import Parse


class Step:
    """The working set of one step; stages mutate ``turn`` and return nothing.

    Args:
        state: the conversation state before the message (copied: the caller's is untouched).
        msg: the message.
        parse: the NLU parse of its text (None for buttons and media without text).
        ctx: the resident, the registry's buildings and their tickets.
        cfg: the flows and thresholds.
    """

    def __init__(
        self,
        state: DialogueState,
        msg: Inbound,
        parse: Parse | None,
        ctx: ResidentContext,
        cfg: DialogueConfig,
    ) -> None:
        self.msg = msg
        self.parse = parse
        self.ctx = ctx
        self.cfg = cfg
        self.loc = ctx.locale
        self.turn = Turn(state=replace(state, slots=dict(state.slots)))

    @property
    def state(self) -> DialogueState:
        """The state being changed (``reset`` replaces it)."""
        return self.turn.state

    def say(self, text: str, buttons: Sequence[Button] = (), *, ask: str = "") -> None:
        """Reply now; ``ask`` names the slot a question asks for."""
        # ``ask`` lets a channel offer a native control (Telegram: a "send my location" /
        # "share my phone number" keyboard button)
        data = {"ask": ask, "locale": self.loc} if ask else {}
        self.turn.replies.append(Outbound(text=text, buttons=tuple(buttons), data=data))

    def reset(self) -> None:
        """Forget the conversation (a worker's pending command, if any, is kept)."""
        self.turn.state = DialogueState(worker_pending=self.state.worker_pending)

    @property
    def intent(self) -> str:
        """The parse's intent ("" without a parse)."""
        return self.parse.intent.name if self.parse else ""

    @property
    def confidence(self) -> float:
        """The parse's confidence in its intent (0 without a parse).

        For a report, the share the classifier gives ``inform`` is not a rival reading: it is
        the details (address, name, phone) that came with the problem. The report's
        confidence is its share among the readings that are not details.
        """
        if self.parse is None:
            return 0.0
        top = self.parse.intent
        if top.name not in self.cfg.flows:
            return top.confidence
        details = next((r.confidence for r in self.parse.ranking if r.name == "inform"), 0.0)
        return min(1.0, top.confidence / (1.0 - details)) if details < 1.0 else top.confidence

    def confident(self, intent: str) -> bool:
        """The message is ``intent``, with at least the clarify threshold's confidence."""
        return self.intent == intent and self.confidence >= self.cfg.clarify_threshold

    def settled(self) -> bool:
        """A confident report reading may be filed at once: a specific category, or
        其他问题 (the catch-all) when no specific category has a real share of the
        confidence (``DialogueConfig.fallback_share``)."""
        if self.intent != FALLBACK_FLOW or self.parse is None:
            return True
        specific = sum(
            r.confidence
            for r in self.parse.ranking
            if r.name in self.cfg.flows and r.name != FALLBACK_FLOW
        )
        return specific < self.cfg.fallback_share

    def is_skip(self, text: str) -> bool:
        """The resident declines to answer ("跳过", "不知道", or a confident deny)."""
        return word_key(text) in SKIP_WORDS or self.confident("deny")

    def flow(self) -> ReportFlow | None:
        """The report flow being filled, if one is chosen."""
        return self.cfg.flows.get(self.state.flow or "")

    def label(self, intent: str) -> str:
        """A report category's name in the resident's language."""
        flow = self.cfg.flows.get(intent)
        if flow is None:
            return intent
        return flow.label.get(self.loc) or flow.label["zh"]
