"""Comparing a candidate model with the active one on examples neither was trained on (the
gate that refuses a worse model), and the comparison's stored form.

Two checks make the gate: the candidate's macro-F1 on examples neither model saw must not be
lower than the active model's (by more than a tolerance), and every intent the candidate adds
or whose examples changed must reach an F1 floor on the candidate's own held-out examples —
a macro-F1 over thirty intents hides one new intent that is never recognised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nlu


@dataclass(frozen=True, slots=True)
class WeakIntent:
    """A new or changed intent scoring below the floor on the candidate's held-out examples.

    Attributes:
        intent: its name.
        change: "new" (the active model does not know it) or "changed" (other examples).
        f1: its F1 on the candidate's held-out examples; None when it has none held out
            (one distinct example: nothing shows that it is recognised).
        support: how many of those examples are of this intent.
    """

    intent: str
    change: str
    f1: float | None
    support: int


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
    floor: float = 0.0
    weak: tuple[WeakIntent, ...] = ()

    @property
    def delta_macro_f1(self) -> float:
        """Candidate minus active macro-F1."""
        return self.candidate_macro_f1 - self.active_macro_f1

    @property
    def worse(self) -> bool:
        """The candidate cannot be shown to be at least as good as the active model."""
        return self.n == 0 or self.delta_macro_f1 < -self.tolerance

    @property
    def refused(self) -> bool:
        """Activation needs force: worse overall, or a new/changed intent below the floor."""
        return self.worse or bool(self.weak)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``delta_macro_f1`` and ``worse``."""
        out = dataclasses.asdict(self)
        out["delta_macro_f1"] = round(self.delta_macro_f1, 4)
        out["worse"] = self.worse
        out["refused"] = self.refused
        return out

    def describe(self) -> str:
        """One line for people: both scores and the verdict."""
        if self.n == 0:
            return (
                f"{self.candidate} cannot be compared with {self.active}: no held-out example "
                "that neither model was trained on"
            )
        verdict = "worse than" if self.worse else "not worse than"
        line = (
            f"{self.candidate} is {verdict} {self.active} on {self.n} held-out examples: "
            f"macro-F1 {self.candidate_macro_f1:.4f} vs {self.active_macro_f1:.4f}, "
            f"accuracy {self.candidate_accuracy:.4f} vs {self.active_accuracy:.4f}"
        )
        if self.weak:
            line += f"; below the F1 floor {self.floor:.2f} on its own held-out examples: " + (
                ", ".join(describe_weak(w) for w in self.weak)
            )
        return line


def describe_weak(w: WeakIntent) -> str:
    """``report_pets (new) F1 0.000 on 2 examples`` / ``… no held-out example``."""
    if w.f1 is None:
        return f"{w.intent} ({w.change}) no held-out example"
    return f"{w.intent} ({w.change}) F1 {w.f1:.3f} on {w.support} examples"


def intent_changes(candidate: nlu.NLUModel, active: nlu.NLUModel | None) -> dict[str, str]:
    """Intents the candidate adds ("new") or was trained on other examples of ("changed").

    Without an active model nothing is new: there is nothing to compare with.
    """
    if active is None:
        return {}
    mine = _digests(candidate)
    theirs = _digests(active)
    known = set(active.intents)
    out: dict[str, str] = {}
    for intent in candidate.intents:
        if intent not in known:
            out[intent] = "new"
        elif mine.get(intent) != theirs.get(intent):
            out[intent] = "changed"
    return out


def _digests(model: nlu.NLUModel) -> dict[str, str]:
    """Per-intent example hashes; models trained before they were recorded fall back to the
    number of examples per intent (a changed count is a change)."""
    raw = model.metadata.get("intent_digests")
    if isinstance(raw, dict) and raw:
        return {str(k): str(v) for k, v in raw.items()}
    counts = model.metadata.get("examples_per_intent")
    if isinstance(counts, dict):
        return {str(k): f"n={v}" for k, v in counts.items()}
    return {}


def weak_intents(
    candidate: nlu.NLUModel, active: nlu.NLUModel | None, floor: float
) -> tuple[WeakIntent, ...]:
    """New or changed intents whose F1 on the candidate's held-out examples is below ``floor``.

    The scores are the candidate's own held-out evaluation (``metadata["held_out"]``): the
    examples of that intent its gate was not trained on.
    """
    if floor <= 0:
        return ()
    held = candidate.metadata.get("held_out")
    per_intent = held.get("per_intent", {}) if isinstance(held, dict) else {}
    out: list[WeakIntent] = []
    for intent, change in sorted(intent_changes(candidate, active).items()):
        metrics = per_intent.get(intent) if isinstance(per_intent, dict) else None
        support = int(metrics.get("support", 0)) if isinstance(metrics, dict) else 0
        if not isinstance(metrics, dict) or support == 0:
            out.append(WeakIntent(intent, change, None, 0))
            continue
        f1 = float(metrics.get("f1", 0.0))
        if f1 < floor:
            out.append(WeakIntent(intent, change, round(f1, 4), support))
    return tuple(out)


def compare(
    candidate: nlu.NLUModel,
    active: nlu.NLUModel,
    examples: Sequence[nlu.Example],
    *,
    tolerance: float = 0.0,
    floor: float = 0.0,
) -> Comparison:
    """Score two models on the examples that neither was trained on.

    Args:
        candidate: the model that would be activated.
        active: the model serving now.
        examples: labelled examples, usually ``comparison_examples(candidate, active)``.
        tolerance: macro-F1 the candidate may lose and still not count as worse.
        floor: the F1 each new or changed intent must reach on the candidate's held-out
            examples (0 turns the check off).

    Returns:
        Both models' accuracy and macro-F1 (over the gold intents; an intent a model does not
        know counts as its error) on the usable examples, and the weak new/changed intents.
    """
    seen = candidate.trained_on | active.trained_on
    usable = [e for e in examples if nlu.example_digest(e.text) not in seen]
    excluded = len(examples) - len(usable)
    weak = weak_intents(candidate, active, floor)
    if not usable:
        return Comparison(
            candidate.version, active.version, 0, excluded, 0.0, 0.0, 0.0, 0.0,
            tolerance, floor, weak,
        )  # fmt: skip
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
        floor=floor,
        weak=weak,
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
    values = {k: v for k, v in raw.items() if k in fields}
    values["weak"] = tuple(
        WeakIntent(str(w["intent"]), str(w["change"]), w.get("f1"), int(w.get("support", 0)))
        for w in raw.get("weak") or ()
        if isinstance(w, dict)
    )
    return Comparison(**values)
