"""What a report flow declares: its category, default priority and the questions it asks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Slot:
    """One piece of information a flow wants.

    Attributes:
        name: building | unit | room | description | phone | photo | plate.
        required: the ticket cannot be routed without it (asked until given).
        ask: optional slots are asked once (with a 跳过/skip button) when ``ask`` is true and
            silently left empty otherwise.
        prompt: i18n key of the question; defaults to ``ask.<name>``.
    """

    name: str
    required: bool = False
    ask: bool = True
    prompt: str | None = None

    @property
    def prompt_key(self) -> str:
        return self.prompt or f"ask.{self.name}"


@dataclass(frozen=True, slots=True)
class ReportFlow:
    """A report intent's dialogue: what it files and which questions it asks, in order.

    Attributes:
        intent: the NLU intent that starts it (``report_elevator``).
        category: the ticket category it files (``elevator``).
        label: category names shown to people, per locale.
        priority: default priority (urgency cues in the message raise it to ``urgent``).
        slots: questions in asking order; ``building`` is always required for routing.
        urgent_advice: extra advice shown at once when the report is urgent.
        departments: who usually co-handles it (shown to workers; used by later routing).
    """

    intent: str
    category: str
    label: dict[str, str]
    priority: str = "normal"
    slots: tuple[Slot, ...] = ()
    urgent_advice: dict[str, str] = field(default_factory=dict)
    departments: tuple[str, ...] = ()

    def slot(self, name: str) -> Slot | None:
        for slot in self.slots:
            if slot.name == name:
                return slot
        return None


BUILDING = Slot("building", required=True)
DESCRIPTION = Slot("description", required=True)
PHONE = Slot("phone")
PHOTO = Slot("photo")
UNIT = Slot("unit")
ROOM = Slot("room")
