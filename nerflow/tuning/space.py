"""A trial's run config: the search space's values sampled by Optuna, put into the config."""

from __future__ import annotations

from typing import Any

from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.tuning.config import SearchParam

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
