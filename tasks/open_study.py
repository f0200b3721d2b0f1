"""Step: the study in its database and its parent run in MLflow, created or resumed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nerflow.config import DataConfig, ModelConfig, TrackingConfig, TrainingConfig
from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.trials import StudyRuns
from nerflow.tuning.config import TuneConfig, baseline_values, describe
from nerflow.tuning.study import enqueue_baseline, finished, requeue_failed, storage_url
from nerflow.tuning.study import open_study as open_optuna_study

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyRef:
    """Where the study lives: its database URL and name, and its MLflow runs."""

    url: str
    name: str
    runs: StudyRuns


def open_study(
    tune: TuneConfig,
    tracking: TrackingConfig,
    data: DataConfig,
    model: ModelConfig,
    training: TrainingConfig,
) -> StudyRef:
    """Open (or resume) the study: the baseline queued first in a new one, failed trials of
    an interrupted one queued again."""
    url = storage_url(tune, tracking.resolved_uri())
    study = open_optuna_study(tune, url)
    if tune.baseline_first and enqueue_baseline(
        study, baseline_values(tune.space, data, model, training)
    ):
        logger.info("study %s: new; its first trial is the configured recipe", tune.study)
    again = requeue_failed(study)
    logger.info(
        "study %s at %s: %d of %d trials finished%s", tune.study, url, len(finished(study)),
        tune.trials, f"; trials {again} failed and are queued again" if again else "",
    )  # fmt: skip
    params = {"study.storage": url, "study.trials": str(tune.trials), **describe(tune.space)}
    return StudyRef(url, tune.study, StudyRuns.open(tracking, tune.study, params))


open_study_task = uncached_task(open_study, name="open-study")
