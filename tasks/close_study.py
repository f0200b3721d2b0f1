"""Step: the study's table, figures and best trial, on its MLflow parent run."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from nerflow.tasks.open_study import StudyRef

from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.orchestration.artifacts import publish_trials_table
from nerflow.orchestration.caching import uncached_task
from nerflow.tuning.config import TuneConfig, apply
from nerflow.tuning.study import best_trial, open_study, study_figures, trial_rows

logger = logging.getLogger(__name__)


def close_study(
    ref: StudyRef, tune: TuneConfig, data: DataConfig, model: ModelConfig, training: TrainingConfig
) -> dict[str, Any] | None:
    """Log the study to its parent run; return the best trial with its configs (None when no
    trial completed)."""
    study = open_study(tune, ref.url)
    rows = trial_rows(study)
    publish_trials_table(ref.name, rows)
    best = best_trial(study)
    with tempfile.TemporaryDirectory() as tmp:
        ref.runs.close(rows, study_figures(study, Path(tmp)), best)
    if best is None:
        logger.warning("study %s: no trial completed; nothing to register", ref.name)
        return None
    logger.info(
        "study %s: best trial %d, validation entity F1 %.4f: %s", ref.name, best["trial"],
        best["val_f1"], ", ".join(f"{k}={v}" for k, v in best["params"].items()),
    )  # fmt: skip
    best_data, best_model, best_training = apply(best["params"], data, model, training)
    return {**best, "data": best_data, "model": best_model, "training": best_training}


close_study_task = uncached_task(close_study, name="close-study")
