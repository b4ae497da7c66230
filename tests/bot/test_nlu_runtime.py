"""Model versions: stored with their evaluation, gated activation, rollback, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlu
from bot.nlu_runtime import ActivationRefused, ModelRepository, compare

MINI = Path(__file__).resolve().parents[1] / "nlu" / "fixtures" / "mini.yml"


@pytest.fixture(scope="module")
def mini() -> nlu.TrainingData:
    return nlu.load_training_data(MINI)


def starved(data: nlu.TrainingData) -> nlu.TrainingData:
    """The same held-out examples, but only one training example per intent (a worse model)."""
    config = nlu.PipelineConfig.default().training
    train_idx, held_idx = nlu.holdout_split(data.examples, config.holdout_fraction, config.seed)
    kept: dict[str, nlu.Example] = {}
    for i in train_idx:
        kept.setdefault(data.examples[i].intent, data.examples[i])
    examples = [data.examples[i] for i in held_idx] + list(kept.values())
    return nlu.TrainingData(examples, data.synonyms, data.regexes, data.lookups)


@pytest.fixture(scope="module")
def repo_with_good_and_bad(
    tmp_path_factory: pytest.TempPathFactory, mini: nlu.TrainingData
) -> tuple[Path, str, str]:
    """A models directory where a good version is active and a worse one was refused."""
    root = tmp_path_factory.mktemp("models")
    repo = ModelRepository(root)
    good = repo.train_version(mini)
    assert good.activated and good.comparison is None  # nothing was active: no comparison
    bad = repo.train_version(starved(mini))
    return root, good.version.version, bad.version.version


def test_trained_version_is_stored_with_its_held_out_evaluation_when_training(
    repo_with_good_and_bad: tuple[Path, str, str],
) -> None:
    root, good, _ = repo_with_good_and_bad
    versions = {v.version: v for v in ModelRepository(root).versions()}
    stored = versions[good]
    assert stored.n_examples == 68
    assert set(stored.intents) == {
        "report_elevator",
        "report_parking",
        "report_noise",
        "report_leak",
        "greet",
        "out_of_scope",
    }
    assert stored.metrics["n"] >= 6 and 0.0 <= stored.metrics["macro_f1"] <= 1.0
    assert 0.0 < stored.thresholds["out_of_scope"] <= stored.thresholds["clarify"] < 1.0
    # the gate (trained without the held-out part) is stored beside the served model
    assert (root / good / "gate" / "model.json").is_file()
    assert (root / good / "heldout.jsonl").read_text("utf-8").count("\n") == stored.metrics["n"]


def test_activation_is_refused_when_candidate_scores_worse_on_held_out_examples(
    repo_with_good_and_bad: tuple[Path, str, str],
) -> None:
    root, good, bad = repo_with_good_and_bad
    repo = ModelRepository(root)
    assert repo.active_version() == good  # train_version did not activate the worse one
    comparison = repo.compare(bad)
    assert comparison.worse and comparison.n > 0
    assert comparison.candidate_macro_f1 < comparison.active_macro_f1
    with pytest.raises(ActivationRefused, match="worse than") as refused:
        repo.activate(bad)
    assert refused.value.comparison is not None and refused.value.comparison.worse
    assert repo.active_version() == good


def test_forced_activation_needs_a_reason_and_is_recorded_when_forced(
    repo_with_good_and_bad: tuple[Path, str, str], tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "models"
    shutil.copytree(repo_with_good_and_bad[0], root)
    _, good, bad = repo_with_good_and_bad
    repo = ModelRepository(root)
    with pytest.raises(nlu.NLUError, match="reason"):
        repo.activate(bad, force=True)
    entry = repo.activate(bad, force=True, reason="new intents needed today")
    assert repo.active_version() == bad
    assert entry.forced and entry.previous == good
    assert entry.comparison is not None and entry.comparison["worse"] is True
    last = repo.history()[-1]
    assert (last.version, last.reason, last.action) == (bad, "new intents needed today", "activate")

    back = repo.rollback()
    assert back.version == good and back.action == "rollback"
    assert repo.active_version() == good
    # nothing earlier than the first version to go back to
    with pytest.raises(nlu.NLUError, match="nothing to roll back"):
        repo.rollback()
    # but any stored version can be named
    assert repo.rollback(bad, reason="compare in production").version == bad
    assert [v.version for v in repo.versions() if v.active] == [bad]


def test_versions_are_compared_only_on_examples_neither_model_was_trained_on(
    mini: nlu.TrainingData,
) -> None:
    model = nlu.train(mini, version="a")
    gate = model.gate
    assert gate is not None
    held = list(gate.held_out)
    assert held and not any(nlu.example_digest(e.text) in gate.trained_on for e in held)
    # The refitted model was trained on the held-out examples: comparing with it drops them.
    against_refit = compare(gate, model, held)
    assert against_refit.n == 0 and against_refit.excluded == len(held)
    assert against_refit.worse  # no evidence is not a pass
    same = compare(gate, gate, held)
    assert same.n == len(held) and not same.worse and same.delta_macro_f1 == 0.0


def test_held_out_membership_depends_only_on_the_text_when_data_grows(
    mini: nlu.TrainingData,
) -> None:
    _, held = nlu.holdout_split(mini.examples, 0.2, 13)
    held_texts = {mini.examples[i].text for i in held}
    grown = [*mini.examples, *(nlu.Example(f"新的例句{i}号", "greet") for i in range(30))]
    _, held2 = nlu.holdout_split(grown, 0.2, 13)
    assert {grown[i].text for i in held2 if i < len(mini.examples)} == held_texts
    # duplicates always land on the same side
    doubled = [*mini.examples, *mini.examples]
    _, held3 = nlu.holdout_split(doubled, 0.2, 13)
    n = len(mini.examples)
    assert {i for i in held3 if i < n} == {i - n for i in held3 if i >= n}


def test_damaged_version_is_never_activated_when_asked(
    repo_with_good_and_bad: tuple[Path, str, str], tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "models"
    shutil.copytree(repo_with_good_and_bad[0], root)
    _, good, bad = repo_with_good_and_bad
    (root / bad / "arrays.npz").write_bytes(b"broken")
    repo = ModelRepository(root)
    with pytest.raises(nlu.ModelLoadError, match="corrupt"):
        repo.activate(bad, force=True, reason="try")
    with pytest.raises(nlu.ModelLoadError, match=r"does not exist"):
        repo.activate("v-missing", force=True, reason="try")
    assert repo.active_version() == good


def test_stored_version_is_never_overwritten_when_saving_the_same_name(
    mini: nlu.TrainingData, tmp_path: Path
) -> None:
    repo = ModelRepository(tmp_path / "models")
    model = nlu.train(mini, version="v1")
    repo.save(model)
    with pytest.raises(nlu.NLUError, match="exists already"):
        repo.save(model)
    assert (
        json.loads((tmp_path / "models" / "v1" / "version.json").read_text("utf-8"))["version"]
        == "v1"
    )


# A new intent whose examples are really other intents' complaints (what a hurried admin
# pastes in): the model cannot learn it, whatever the macro-F1 over every intent says.
MISLABELLED = [
    "电梯又坏了啊",
    "楼上又在装修好吵",
    "有车停在我家门口",
    "厨房天花板在漏水",
    "电梯门关不上",
    "半夜有人大声唱歌",
    "消防通道被车堵了",
    "卫生间水管漏了",
]


def with_intent(data: nlu.TrainingData, intent: str, texts: list[str]) -> nlu.TrainingData:
    examples = [*data.examples, *(nlu.Example(t, intent) for t in texts)]
    return nlu.TrainingData(examples, data.synonyms, data.regexes, data.lookups)


def test_new_intent_below_the_f1_floor_is_refused_unless_forced_when_activating(
    mini: nlu.TrainingData, tmp_path: Path
) -> None:
    repo = ModelRepository(tmp_path / "models", floor=0.5)
    good = repo.train_version(mini).version.version
    outcome = repo.train_version(with_intent(mini, "report_misc", MISLABELLED))
    assert outcome.refused and not outcome.activated
    comparison = outcome.comparison
    assert comparison is not None and comparison.refused
    weak = {w.intent: w for w in comparison.weak}
    assert set(weak) == {"report_misc"}  # the untouched intents are not judged by the floor
    assert weak["report_misc"].change == "new"
    assert weak["report_misc"].f1 is not None and weak["report_misc"].f1 < 0.5
    assert weak["report_misc"].support >= 1
    assert "below the F1 floor 0.50" in comparison.describe()
    assert "report_misc (new) F1" in comparison.describe()
    assert repo.active_version() == good
    with pytest.raises(ActivationRefused, match="report_misc"):
        repo.activate(outcome.version.version)
    entry = repo.activate(outcome.version.version, force=True, reason="试用一天")
    assert entry.forced and entry.comparison is not None
    assert entry.comparison["weak"][0]["intent"] == "report_misc"
    assert entry.comparison["refused"] is True


def test_changed_intent_is_judged_by_the_floor_and_a_sound_new_intent_passes(
    mini: nlu.TrainingData, tmp_path: Path
) -> None:
    from bot.nlu_compare import intent_changes, weak_intents

    before = nlu.train(mini, version="before")
    pets = [
        "我家的猫跑丢了",
        "邻居家的狗半夜一直叫",
        "楼道里有流浪猫",
        "小区里有人遛狗不牵绳",
        "狗屎没人清理",
        "有条大狗在单元门口咬人",
        "谁家的鹦鹉太吵",
        "捡到一只小猫",
    ]
    changed = with_intent(mini, "report_leak", ["阳台上的狗一直叫"])
    after = nlu.train(with_intent(changed, "report_pets", pets), version="after")
    assert intent_changes(after, before) == {"report_leak": "changed", "report_pets": "new"}
    assert intent_changes(after, None) == {}  # nothing to compare with: nothing is new
    floor_all = weak_intents(after, before, 1.01)  # a floor nothing reaches: both are judged
    assert {w.intent for w in floor_all} == {"report_leak", "report_pets"}
    assert weak_intents(after, before, 0.0) == ()  # the check turned off
