"""Comparing a candidate model with the active one on examples neither was trained on (the
gate that refuses a worse model), and the comparison's stored form."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nlu


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate and active model scored on the same examples, unseen by both.

    Attributes:
        n: examples compared on (the candidate's held-out part minus any example either
            model was trained on).
        excluded: held-out examples left out because one of the models was trained on them.
        tolerance: how much lower the candidate's macro-F1 may be and still not be "worse".
    """

    candidate: str
    active: str
    n: int
    excluded: int
    candidate_accuracy: float
    candidate_macro_f1: float
    active_accuracy: float
    active_macro_f1: float
    tolerance: float = 0.0

    @property
    def delta_macro_f1(self) -> float:
        """Candidate minus active macro-F1."""
        return self.candidate_macro_f1 - self.active_macro_f1

    @property
    def worse(self) -> bool:
        """The candidate cannot be shown to be at least as good as the active model."""
        return self.n == 0 or self.delta_macro_f1 < -self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``delta_macro_f1`` and ``worse``."""
        out = dataclasses.asdict(self)
        out["delta_macro_f1"] = round(self.delta_macro_f1, 4)
        out["worse"] = self.worse
        return out

    def describe(self) -> str:
        """One line for people: both scores and the verdict."""
        if self.n == 0:
            return (
                f"{self.candidate} cannot be compared with {self.active}: no held-out example "
                "that neither model was trained on"
            )
        verdict = "worse than" if self.worse else "not worse than"
        return (
            f"{self.candidate} is {verdict} {self.active} on {self.n} held-out examples: "
            f"macro-F1 {self.candidate_macro_f1:.4f} vs {self.active_macro_f1:.4f}, "
            f"accuracy {self.candidate_accuracy:.4f} vs {self.active_accuracy:.4f}"
        )


def compare(
    candidate: nlu.NLUModel,
    active: nlu.NLUModel,
    examples: Sequence[nlu.Example],
    *,
    tolerance: float = 0.0,
) -> Comparison:
    """Score two models on the examples that neither was trained on.

    Args:
        candidate: the model that would be activated.
        active: the model serving now.
        examples: labelled examples, usually ``comparison_examples(candidate, active)``.
        tolerance: macro-F1 the candidate may lose and still not count as worse.

    Returns:
        Both models' accuracy and macro-F1 (over the gold intents; an intent a model does not
        know counts as its error) on the usable examples.
    """
    seen = candidate.trained_on | active.trained_on
    usable = [e for e in examples if nlu.example_digest(e.text) not in seen]
    excluded = len(examples) - len(usable)
    if not usable:
        return Comparison(candidate.version, active.version, 0, excluded, 0.0, 0.0, 0.0, 0.0)
    cand = nlu.evaluate(candidate, usable)
    act = nlu.evaluate(active, usable)
    return Comparison(
        candidate=candidate.version,
        active=active.version,
        n=len(usable),
        excluded=excluded,
        candidate_accuracy=round(cand.accuracy, 4),
        candidate_macro_f1=round(cand.macro_f1, 4),
        active_accuracy=round(act.accuracy, 4),
        active_macro_f1=round(act.macro_f1, 4),
        tolerance=tolerance,
    )


def comparison_examples(candidate: nlu.NLUModel, active: nlu.NLUModel) -> list[nlu.Example]:
    """Both versions' held-out examples (each text once): examples the candidate's data lost
    still count, so deleting training data cannot make a worse model look as good."""
    seen: set[str] = set()
    out: list[nlu.Example] = []
    for example in (*candidate.held_out, *active.held_out):
        digest = nlu.example_digest(example.text)
        if digest not in seen:
            seen.add(digest)
            out.append(example)
    return out


def comparison_from_dict(raw: dict[str, Any] | None) -> Comparison | None:
    """Rebuild a :class:`Comparison` from its :meth:`Comparison.to_dict` form."""
    if raw is None:
        return None
    fields = {f.name for f in dataclasses.fields(Comparison)}
    return Comparison(**{k: v for k, v in raw.items() if k in fields})
