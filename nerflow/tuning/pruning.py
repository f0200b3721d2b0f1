"""Pruning a trial on its per-epoch validation F1, from inside the Trainer."""

from __future__ import annotations

import logging
from typing import Any

import optuna
from transformers import TrainerCallback

from nerflow.training.fit import TrainingStopped

logger = logging.getLogger(__name__)


class TrialPruned(TrainingStopped, optuna.TrialPruned):
    """The study pruned this trial: a stopped training (no retry) that Optuna records as
    PRUNED."""


class PruneOnValidation(TrainerCallback):
    """Reports each evaluation's entity F1 to the trial; stops the training when the
    study's pruner says the trial cannot catch up.

    Scores are reported at their epoch (rounded: 1, 2, ...), not their optimizer step, so
    trials with different batch sizes are compared epoch against epoch, and a training
    resumed from a checkpoint reports at the epochs it really reached.
    """

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
        epoch = max(1, round(state.epoch or 0))
        self.best = max(self.best or 0.0, float(metrics["eval_f1"]))
        self.trial.report(float(metrics["eval_f1"]), epoch)
        if self.trial.should_prune():
            logger.info(
                "trial %d pruned after epoch %d (validation F1 %.3f)",
                self.trial.number, epoch, metrics["eval_f1"],
            )  # fmt: skip
            score = metrics["eval_f1"]
            raise TrialPruned(f"pruned after epoch {epoch} (validation F1 {score:.3f})")
