"""The study's configuration: the [tune] table of a run's TOML file.

A search space names run-config fields as `section.field` (data, model, training), each a
range or a list of choices; a trial is the run config with those fields replaced.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from nerflow.config import DataConfig, ModelConfig, TrainingConfig, _Config

#: The sections of a run config whose fields a search space may tune.
TUNABLE_SECTIONS = ("data", "model", "training")


class SearchParam(_Config):
    """One dimension of a search space: a range (low, high, log, step) or a list of choices."""

    low: float | None = None
    """lowest value of a range"""
    high: float | None = None
    """highest value of a range"""
    log: bool = False
    """sample the range on a log scale"""
    step: float | None = None
    """a range's step (an int range when low, high and step are whole numbers)"""
    choices: tuple[bool | int | float | str, ...] | None = None
    """the values to choose from ("none": leave the field unset)"""

    @model_validator(mode="after")
    def _range_or_choices(self) -> SearchParam:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError("give either low and high, or choices")
        if self.choices is not None and not self.choices:
            raise ValueError("choices: give at least one value")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and (self.low or 0) <= 0:
            raise ValueError("a log range needs low > 0")
        return self


#: The default study: what the issue names, in ranges sized for the offline MiniLM.
DEFAULT_SEARCH_SPACE: dict[str, SearchParam] = {
    "training.learning_rate": SearchParam(low=5e-5, high=5e-4, log=True),
    "training.epochs": SearchParam(choices=(3, 4, 5)),
    "training.warmup_ratio": SearchParam(low=0.0, high=0.2),
    "training.weight_decay": SearchParam(low=0.0, high=0.1),
    "training.batch_size": SearchParam(choices=(16, 32)),
    "data.label_all_subwords": SearchParam(choices=(False, True)),
    "model.dropout": SearchParam(choices=("none", 0.0, 0.2)),
    "training.seed": SearchParam(choices=(1, 42)),
}


class TuneConfig(_Config):
    """A hyper-parameter study (the [tune] table; read by `nerflow tune` only)."""

    study: str = "btc-ner-tune"
    """study name: a rerun with the same name resumes it"""
    storage: str | None = None
    """SQLAlchemy URL of the Optuna study (PostgreSQL for many workers); unset: optuna.db
    beside a SQLite MLflow store, else under ./mlruns"""
    trials: int = Field(default=10, ge=1)
    """trials the study should have finished (complete or pruned), over all workers and
    resumes"""
    timeout_minutes: float | None = Field(default=None, gt=0)
    """stop starting trials after this long"""
    sampler_seed: int = 0
    """seed of the TPE sampler"""
    startup_trials: int = Field(default=2, ge=0)
    """trials that finish before any is pruned"""
    warmup_evaluations: int = Field(default=1, ge=0)
    """validation scores of a trial before it may be pruned"""
    baseline_first: bool = True
    """the first trial is the config as given (the current recipe), a baseline to beat"""
    space: dict[str, SearchParam] = DEFAULT_SEARCH_SPACE
    """section.field = {low, high[, log, step]} or {choices = [...]}"""

    @model_validator(mode="after")
    def _known_fields(self) -> TuneConfig:
        sections: dict[str, type[_Config]] = {
            "data": DataConfig, "model": ModelConfig, "training": TrainingConfig
        }  # fmt: skip
        for name in self.space:
            section, _, field = name.partition(".")
            if section not in sections or field not in sections[section].model_fields:
                raise ValueError(
                    f"tune.space: {name!r} is not a field of {', '.join(TUNABLE_SECTIONS)}"
                )
        return self


def read_tune_config(path: Path | None) -> TuneConfig:
    """The [tune] table of a TOML config file (defaults without a file)."""
    if path is None:
        return TuneConfig()
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return TuneConfig.model_validate(raw.get("tune", {}))
    except ValidationError as exc:
        raise ValueError(f"{path}: [tune]: {exc}") from exc
