"""Minhu NLU: intents with calibrated confidences and entities for community-governance chat.

Pure: after a model is loaded, nothing here does I/O. Imports nothing from bot/, handlers/
or storage/.
"""

from nlu.config import ComponentConfig, PipelineConfig, TrainingConfig
from nlu.errors import ConfigError, ModelLoadError, NLUError, TrainingDataError
from nlu.evaluation import (
    EvalReport,
    IntentMetrics,
    PredictionRecord,
    confusion_png,
    write_confusion_png,
)
from nlu.loading import jsonl_row_text, load_jsonl, load_training_data
from nlu.model import OUT_OF_SCOPE, NLUModel, load_gate, load_model
from nlu.rasa import (
    Domain,
    dump_domain_yaml,
    dump_rasa_yaml,
    merge_domain_yaml,
    parse_domain_yaml,
    parse_rasa_yaml,
)
from nlu.safety import advice_for, detect_hazards
from nlu.text import normalize
from nlu.training import choose_thresholds, example_digest, holdout_split, train
from nlu.types import (
    AnnotatedEntity,
    BuildingHint,
    Entity,
    Example,
    Hazard,
    Hints,
    IntentScore,
    Parse,
    Thresholds,
    TrainingData,
)
from nlu.validation import CrossValidationReport, cross_validate, evaluate

__all__ = [
    "OUT_OF_SCOPE",
    "AnnotatedEntity",
    "BuildingHint",
    "ComponentConfig",
    "ConfigError",
    "CrossValidationReport",
    "Domain",
    "Entity",
    "EvalReport",
    "Example",
    "Hazard",
    "Hints",
    "IntentMetrics",
    "IntentScore",
    "ModelLoadError",
    "NLUError",
    "NLUModel",
    "Parse",
    "PipelineConfig",
    "PredictionRecord",
    "Thresholds",
    "TrainingConfig",
    "TrainingData",
    "TrainingDataError",
    "advice_for",
    "choose_thresholds",
    "confusion_png",
    "cross_validate",
    "detect_hazards",
    "dump_domain_yaml",
    "dump_rasa_yaml",
    "evaluate",
    "example_digest",
    "holdout_split",
    "jsonl_row_text",
    "load_gate",
    "load_jsonl",
    "load_model",
    "load_training_data",
    "merge_domain_yaml",
    "normalize",
    "parse_domain_yaml",
    "parse_rasa_yaml",
    "train",
    "write_confusion_png",
]
