"""The tuning flow: an Optuna study of cached trainings, its best trial registered and gated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.flows.train_ner import train_ner
from nerflow.tasks.check_run import check_run_task
from nerflow.tasks.close_study import close_study_task
from nerflow.tasks.gather_corpus import gather_corpus_task
from nerflow.tasks.open_study import open_study_task
from nerflow.tasks.record_best import record_best_task
from nerflow.tasks.tokenize_dataset import tokenize_dataset_task
from nerflow.tasks.train_model import train_model_task
from prefect import flow

from nerflow.config import DataConfig, ModelConfig, RunConfig, TrackingConfig, TrainingConfig
from nerflow.orchestration.artifacts import publish_trials_table
from nerflow.tuning.config import TuneConfig
from nerflow.tuning.study import run_study, trial_rows
from nerflow.tuning.trial import TrialSteps, objective


@flow(name="tune-ner", description="Search training settings on validation F1 with Optuna.")
def tune_ner(
    data: DataConfig = DataConfig(),  # noqa: B008 - frozen pydantic models are safe defaults
    model: ModelConfig = ModelConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    tracking: TrackingConfig = TrackingConfig(),  # noqa: B008
    tune: TuneConfig = TuneConfig(),  # noqa: B008
    work_dir: Path = RunConfig().work_dir,  # noqa: B008
    shared_dir: str | None = None,
) -> dict[str, Any]:
    """Run the study's trials (resuming it), then train-ner on the best trial's settings."""
    work_dir = work_dir.resolve()
    tracking = check_run_task(data, model, tracking, work_dir, shared_dir)
    dataset_dir = gather_corpus_task(data, work_dir)
    study = open_study_task(tune, tracking, data, model, training)
    # Each trial runs the same cached steps as train-ner: a repeated trial is a cache hit.
    steps = TrialSteps(
        tokenize=lambda d, m: tokenize_dataset_task(dataset_dir, m, d, work_dir),
        train=lambda tok, m, t, callbacks: train_model_task(tok, m, t, work_dir, None, callbacks),
    )
    ran = run_study(
        study.url, tune, objective(tune, (data, model, training), steps, study.runs),
        after_each=lambda done, _: publish_trials_table(tune.study, trial_rows(done)),
    )  # fmt: skip
    best = close_study_task(study, tune, data, model, training)
    if best is None:
        return {"study": tune.study, "trials_run": ran, "best": None}
    summary = train_ner(
        best["data"], best["model"], best["training"], tracking, work_dir, shared_dir
    )
    registered = record_best_task(study, summary)
    found = {name: best[name] for name in ("trial", "val_f1", "params")}
    return {"study": tune.study, "trials_run": ran, "best": {**found, **registered}}
