"""Exceptions of the NLU package: one root, specific subclasses for what callers handle."""

from __future__ import annotations


class NLUError(Exception):
    """Root of every error the NLU package raises on purpose."""


class ModelLoadError(NLUError):
    """A saved model is missing, incomplete, corrupt or from an incompatible format version."""


class TrainingDataError(NLUError):
    """Training data cannot be read or cannot train a model (bad YAML, too few intents...)."""


class ConfigError(NLUError):
    """A pipeline configuration names an unknown component or has invalid parameters."""
