"""One trial: sample its values, tokenize and train through the flow's cached steps (a trial
already trained is a cache hit), prune it on its per-epoch validation F1, record it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from transformers import TrainerCallback

from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.tracking.live import LiveMetrics
from nerflow.tracking.trials import StudyRuns
from nerflow.training.fit import TrainingStopped
from nerflow.training.meta import read_training_meta
from nerflow.tuning.config import TuneConfig, apply, suggest

logger = logging.getLogger(__name__)


class TrialPruned(TrainingStopped, optuna.TrialPruned):
    """The study pruned this trial: a stopped training (no retry) that Optuna records PRUNED."""


class PruneOnValidation(TrainerCallback):
    """Reports each evaluation's entity F1 to the trial at its epoch; stops the training when
    the study's pruner says the trial cannot catch up."""

    # At the (rounded) epoch, not the optimizer step: trials with different batch sizes are
    # compared epoch against epoch, and a resumed training reports the epochs it reached.
    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.best: float | None = None

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        """Report the score; raise `TrialPruned` when the pruner says so."""
        if not metrics or "eval_f1" not in metrics:
            return
        epoch, score = max(1, round(state.epoch or 0)), float(metrics["eval_f1"])
        self.best = max(self.best or 0.0, score)
        self.trial.report(score, epoch)
        if self.trial.should_prune():
            logger.info("trial %d pruned after epoch %d (validation F1 %.3f)",
                        self.trial.number, epoch, score)  # fmt: skip
            raise TrialPruned(f"pruned after epoch {epoch} (validation F1 {score:.3f})")


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
        score = read_training_meta(model_dir).best_validation_f1
        if score is None:
            raise ValueError(f"{model_dir}: the training evaluated no checkpoint: no F1 to tune on")
        trial.set_user_attr("model_dir", str(model_dir))
        runs.finish_trial(run_id, "complete", score, model_dir, live.logged_entries)
        logger.info("trial %d: validation entity F1 %.4f", trial.number, score)
        return score

    return run
