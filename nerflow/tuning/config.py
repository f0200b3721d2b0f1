"""The study's configuration (the [tune] table of a run's TOML file), and a trial's run config:
the search space's values sampled by Optuna, put into the config.

A search space names run-config fields as `section.field` (data, model, training), each a
range or a list of choices; a trial is the run config with those fields replaced.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from nerflow.config import DataConfig, ModelConfig, TrainingConfig, _Config


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
        sections = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig}
        for name in self.space:
            section, _, field = name.partition(".")
            if field not in getattr(sections.get(section), "model_fields", {}):
                raise ValueError(f"tune.space: {name!r} is not a field of data, model, training")
        return self


#: A choice that leaves the field unset (TOML has no null).
UNSET = "none"


def suggest(trial: Any, space: dict[str, SearchParam]) -> dict[str, Any]:
    """Ask the trial for one value per dimension (already set for an enqueued trial)."""
    values: dict[str, Any] = {}
    for name, param in space.items():
        if param.choices is not None:
            values[name] = trial.suggest_categorical(name, list(param.choices))
        elif _is_int_range(param):
            values[name] = trial.suggest_int(
                name, int(param.low or 0), int(param.high or 0), step=int(param.step or 1),
                log=param.log,
            )  # fmt: skip
        else:
            values[name] = trial.suggest_float(
                name, float(param.low or 0), float(param.high or 0), step=param.step, log=param.log
            )
    return values


def _is_int_range(param: SearchParam) -> bool:
    bounds = (param.low, param.high, param.step)
    return param.step is not None and all(float(b or 0).is_integer() for b in bounds)


def apply(
    values: dict[str, Any], data: DataConfig, model: ModelConfig, training: TrainingConfig
) -> tuple[DataConfig, ModelConfig, TrainingConfig]:
    """The three configs with the trial's values in place, validated like a config file."""
    sections: dict[str, Any] = {"data": data, "model": model, "training": training}
    updates: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for name, value in values.items():
        section, _, field = name.partition(".")
        updates[section][field] = None if value == UNSET else value
    built = [
        type(config).model_validate({**config.model_dump(), **updates[name]})
        for name, config in sections.items()
    ]
    return built[0], built[1], built[2]


def baseline_values(
    space: dict[str, SearchParam], data: DataConfig, model: ModelConfig, training: TrainingConfig
) -> dict[str, Any]:
    """The given configs' own values of the space's fields (the study's first trial)."""
    sections: dict[str, Any] = {"data": data, "model": model, "training": training}
    values = {}
    for name in space:
        section, _, field = name.partition(".")
        value = getattr(sections[section], field)
        values[name] = UNSET if value is None else value
        param = space[name]
        inside = (
            values[name] in param.choices
            if param.choices is not None
            else isinstance(value, int | float) and (param.low or 0) <= value <= (param.high or 0)
        )
        if not inside:
            raise ValueError(
                f"tune.space: {name} = {values[name]!r} in the run config is outside its "
                "search space; widen the space or set tune.baseline_first = false"
            )
    return values


def describe(space: dict[str, SearchParam]) -> dict[str, str]:
    """One readable line per dimension (the study run's params)."""
    out = {}
    for name, param in space.items():
        if param.choices is not None:
            out[name] = "one of " + ", ".join(str(c) for c in param.choices)
        else:
            scale = " log" if param.log else ""
            step = f" step {param.step:g}" if param.step else ""
            out[name] = f"{param.low:g} to {param.high:g}{scale}{step}"
    return out
