"""The search space: read from a config file, sampled by Optuna, put into the run config."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nerflow.config import DataConfig, ModelConfig, RunConfig, TrainingConfig, read_table
from nerflow.tuning.config import SearchParam, TuneConfig, apply, baseline_values, suggest

CONFIG = """
[training]
epochs = 2

[tune]
study = "lr-only"
trials = 4

[tune.space]
"training.learning_rate" = {low = 1e-5, high = 1e-3, log = true}
"training.max_tokens_per_batch" = {choices = ["none", 2048]}
"data.label_all_subwords" = {choices = [false, true]}
"training.epochs" = {low = 1, high = 3, step = 1}
"""


def test_a_config_file_gives_both_the_run_and_its_study(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert read_table(RunConfig, path).training.epochs == 2  # [tune] is not the run's business
    tune = read_table(TuneConfig, path, "tune")
    assert tune.study == "lr-only" and tune.trials == 4
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(8):
        trial = study.ask()
        values = suggest(trial, tune.space)
        data, _, training = apply(values, DataConfig(), ModelConfig(), TrainingConfig())
        assert 1e-5 <= training.learning_rate <= 1e-3
        assert training.max_tokens_per_batch in (None, 2048)  # "none": the field left unset
        assert training.epochs in (1, 2, 3) and isinstance(values["training.epochs"], int)
        assert data.label_all_subwords is values["data.label_all_subwords"]
        study.tell(trial, 0.5)


def test_a_mistyped_field_or_range_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[tune.space]\n"training.lr" = {low = 1, high = 2}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"(?s)run.toml: \[tune\].*'training.lr' is not a field"):
        read_table(TuneConfig, path, "tune")
    with pytest.raises(ValueError, match=r"low 2.0 must be below high 1.0"):
        SearchParam(low=2, high=1)
    with pytest.raises(ValueError, match="either low and high, or choices"):
        SearchParam(low=1)
    with pytest.raises(ValueError, match="log range needs low > 0"):
        SearchParam(low=0, high=1, log=True)


def test_a_value_the_configs_refuse_fails_the_trial_not_silently() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        apply({"training.batch_size": 0}, DataConfig(), ModelConfig(), TrainingConfig())


def test_the_baseline_must_lie_inside_the_space() -> None:
    space = TuneConfig().space
    values = baseline_values(space, DataConfig(), ModelConfig(), TrainingConfig())
    assert values["training.learning_rate"] == TrainingConfig().learning_rate
    assert values["model.dropout"] == "none"  # the base model's own dropout
    with pytest.raises(ValueError, match=r"training.batch_size = 8 .* outside its search space"):
        baseline_values(space, DataConfig(), ModelConfig(), TrainingConfig(batch_size=8))
