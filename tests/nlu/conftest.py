"""Shared fixtures: one small model trained once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest puts tests/ on sys.path (rootdir-less "prepend" import mode), where this directory,
# tests/nlu, would shadow the real nlu package as a namespace package. Put the repository
# root first. (Redundant once pyproject sets `pythonpath = ["."]` for pytest.)
_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

import nlu  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def mini_data() -> nlu.TrainingData:
    return nlu.load_training_data(FIXTURES / "mini.yml")


@pytest.fixture(scope="session")
def mini_model(mini_data: nlu.TrainingData) -> nlu.NLUModel:
    return nlu.train(mini_data, version="test-mini")


@pytest.fixture(scope="session")
def hints() -> nlu.Hints:
    return nlu.Hints(
        buildings=(
            nlu.BuildingHint("3幢", ("3号楼", "三幢"), "幸福小区"),
            nlu.BuildingHint("B区5幢", ("B区5号楼",), "幸福小区"),
            nlu.BuildingHint("综合楼", ("老干部活动中心",), "阳光花园"),
        ),
        communities=("幸福小区", "阳光花园"),
    )


@pytest.fixture(scope="session")
def own_model() -> nlu.NLUModel:
    """The default pipeline trained on the project's own intents (nlu/data)."""
    return nlu.train(nlu.load_training_data(Path(_ROOT) / "nlu" / "data"), version="test-own")
