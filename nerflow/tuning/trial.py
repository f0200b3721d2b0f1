"""One trial: sample its values, tokenize and train through the given steps, record it.

The steps are passed in (the flow gives its Prefect tasks), so a trial's training is the
same cached step as `train-ner`'s: a trial with values already trained is a cache hit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from transformers import TrainerCallback

from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.tracking.live import LiveMetrics
from nerflow.tracking.trials import StudyRuns
from nerflow.training.fit import read_training_meta
from nerflow.tuning.config import TuneConfig
from nerflow.tuning.pruning import PruneOnValidation, TrialPruned
from nerflow.tuning.space import apply, suggest

logger = logging.getLogger(__name__)

Tokenize = Callable[[DataConfig, ModelConfig], Path]
Train = Callable[[Path, ModelConfig, TrainingConfig, Sequence[TrainerCallback]], Path]


@dataclass(frozen=True)
class TrialSteps:
    """How a trial tokenizes and trains (the flow's cached tasks)."""

    tokenize: Tokenize
    train: Train


def objective(
    tune: TuneConfig,
    base: tuple[DataConfig, ModelConfig, TrainingConfig],
    steps: TrialSteps,
    runs: StudyRuns,
) -> Callable[[optuna.Trial], float]:
    """Optuna's objective: a trial's best validation entity F1 (the test split is not read)."""

    def run(trial: optuna.Trial) -> float:
        values = suggest(trial, tune.space)
        data, model, training = apply(values, *base)
        logger.info("trial %d: %s", trial.number, ", ".join(f"{k}={v}" for k, v in values.items()))
        run_id = runs.start_trial(trial.number, values)
        live, pruning = LiveMetrics(runs.uri, run_id), PruneOnValidation(trial)
        try:
            tokenized = steps.tokenize(data, model)
            model_dir = steps.train(tokenized, model, training, [live, pruning])
        except TrialPruned:
            runs.finish_trial(run_id, "pruned", pruning.best, None, live.logged_entries)
            raise
        except BaseException:
            runs.finish_trial(run_id, "failed", None, None, live.logged_entries)
            raise
        score = float(read_training_meta(model_dir)["best_validation_f1"])
        trial.set_user_attr("model_dir", str(model_dir))
        runs.finish_trial(run_id, "complete", score, model_dir, live.logged_entries)
        logger.info("trial %d: validation entity F1 %.4f", trial.number, score)
        return score

    return run
