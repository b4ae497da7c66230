"""Pipeline configuration: which components run, with which parameters (Rasa-style YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nlu.errors import ConfigError

PREPROCESSORS = frozenset({"span_masker"})
POSTPROCESSORS = frozenset({"problem_detector"})
TOKENIZERS = frozenset({"jieba"})
FEATURIZERS = frozenset({"char_ngrams", "word_ngrams", "tfidf", "sentence_embedding"})
CLASSIFIERS = frozenset({"linear_classifier"})
EXTRACTORS = frozenset(
    {
        "address_extractor",
        "phone_extractor",
        "plate_extractor",
        "time_extractor",
        "urgency_extractor",
        "data_entity_extractor",
        "registry_matcher",
    }
)
COMPONENTS = PREPROCESSORS | TOKENIZERS | FEATURIZERS | CLASSIFIERS | EXTRACTORS | POSTPROCESSORS


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    """One pipeline step: a component name, an optional alias and its parameters."""

    name: str
    alias: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The alias if set, else the name (used in metadata and saved arrays)."""
        return self.alias or self.name

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: ``{"name": ..., "alias": ..., **params}``."""
        out: dict[str, Any] = {"name": self.name}
        if self.alias:
            out["alias"] = self.alias
        out.update(self.params)
        return out


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """How training holds out data and sets the thresholds (see nlu/config/default.yml)."""

    holdout_fraction: float = 0.2
    seed: int = 13
    refit_on_all: bool = True
    clarify_precision: float = 0.9
    out_of_scope_quantile: float = 0.02
    max_chars: int = 1000
    entity_max_chars: int = 1000


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """A whole pipeline: tokenizer -> featurizers -> classifier -> entity extractors."""

    pipeline: tuple[ComponentConfig, ...]
    training: TrainingConfig = field(default_factory=TrainingConfig)
    language: str = "zh"

    @classmethod
    def default(cls) -> PipelineConfig:
        """The packaged default pipeline (``nlu/config/default.yml``)."""
        text = resources.files("nlu").joinpath("config/default.yml").read_text("utf-8")
        return cls.from_yaml_text(text)

    @classmethod
    def from_yaml(cls, path: Path) -> PipelineConfig:
        """Load a pipeline from a YAML file.

        Raises:
            ConfigError: the file is missing, is not YAML, or names unknown components.
        """
        try:
            text = path.read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read pipeline config {path}: {e}") from e
        return cls.from_yaml_text(text)

    @classmethod
    def from_yaml_text(cls, text: str) -> PipelineConfig:
        """Parse a pipeline from YAML text."""
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"pipeline config is not valid YAML: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError("pipeline config must be a mapping with a 'pipeline' list")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PipelineConfig:
        """Build from a parsed mapping (the YAML structure)."""
        steps = raw.get("pipeline")
        if not isinstance(steps, list) or not steps:
            raise ConfigError("pipeline config needs a non-empty 'pipeline' list")
        components: list[ComponentConfig] = []
        for step in steps:
            if not isinstance(step, dict) or not isinstance(step.get("name"), str):
                raise ConfigError(f"every pipeline step needs a 'name': {step!r}")
            params = {k: v for k, v in step.items() if k not in ("name", "alias")}
            alias = step.get("alias")
            components.append(ComponentConfig(step["name"], str(alias) if alias else None, params))
        training_raw = raw.get("training") or {}
        if not isinstance(training_raw, dict):
            raise ConfigError("'training' must be a mapping")
        try:
            training = TrainingConfig(**training_raw)
        except TypeError as e:
            raise ConfigError(f"unknown training option: {e}") from e
        config = cls(tuple(components), training, str(raw.get("language", "zh")))
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The YAML structure (round-trips through :meth:`from_dict`)."""
        t = self.training
        return {
            "language": self.language,
            "pipeline": [c.to_dict() for c in self.pipeline],
            "training": {
                "holdout_fraction": t.holdout_fraction,
                "seed": t.seed,
                "refit_on_all": t.refit_on_all,
                "clarify_precision": t.clarify_precision,
                "out_of_scope_quantile": t.out_of_scope_quantile,
                "max_chars": t.max_chars,
                "entity_max_chars": t.entity_max_chars,
            },
        }

    def validate(self) -> None:
        """Check component names and the tokenizer -> featurizer -> classifier order."""
        names = [c.name for c in self.pipeline]
        unknown = [n for n in names if n not in COMPONENTS]
        if unknown:
            raise ConfigError(f"unknown pipeline components {unknown}; known: {sorted(COMPONENTS)}")
        if sum(n in CLASSIFIERS for n in names) != 1:
            raise ConfigError("the pipeline needs exactly one classifier")
        if not any(n in FEATURIZERS for n in names):
            raise ConfigError("the pipeline needs at least one featurizer")
        if sum(n in TOKENIZERS for n in names) > 1:
            raise ConfigError("the pipeline takes at most one tokenizer")
        if sum(n in PREPROCESSORS for n in names) > 1:
            raise ConfigError("the pipeline takes at most one span_masker")
        labels = [c.label for c in self.pipeline]
        if len(set(labels)) != len(labels):
            raise ConfigError("two components share a name: give one an 'alias'")
        t = self.training
        if not 0.0 < t.holdout_fraction < 0.9:
            raise ConfigError("training.holdout_fraction must be between 0 and 0.9")
        if t.max_chars < 1 or t.entity_max_chars < 1:
            raise ConfigError("training.max_chars and entity_max_chars must be positive")

    def components(self, kinds: frozenset[str]) -> list[ComponentConfig]:
        """The steps whose names are in ``kinds``, in pipeline order."""
        return [c for c in self.pipeline if c.name in kinds]
