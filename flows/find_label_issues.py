"""The label-issue flow: k models, each trained without one fold of the training tweets,
judge the fold they did not see; cleanlab ranks the likely label errors per source."""

from __future__ import annotations

from pathlib import Path

from nerflow.tasks.check_run import check_run_task
from nerflow.tasks.gather_corpus import gather_corpus_task
from nerflow.tasks.log_label_issues import log_label_issues_task
from nerflow.tasks.rank_label_issues import rank_label_issues_task
from nerflow.tasks.split_fold import split_fold_task
from nerflow.tasks.tokenize_dataset import tokenize_dataset_task
from nerflow.tasks.train_model import train_model_task
from prefect import flow

from nerflow.config import DataConfig, ModelConfig, RunConfig, TrackingConfig, TrainingConfig
from nerflow.corpus.folds import DEFAULT_FOLDS


# No crash hook: its one MLflow run is opened and ended inside its last step.
@flow(
    name="find-label-issues",
    description="Rank likely label errors in the training tweets from k-fold predictions.",
)
def find_label_issues(
    data: DataConfig = DataConfig(),  # noqa: B008 - frozen pydantic models are safe defaults
    model: ModelConfig = ModelConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    tracking: TrackingConfig = TrackingConfig(),  # noqa: B008
    folds: int = DEFAULT_FOLDS,
    work_dir: Path = RunConfig().work_dir,  # noqa: B008
    shared_dir: str | None = None,
) -> dict[str, str]:
    """Train one model per fold with the run's recipe (cached like train-ner's), rank the
    held-out predictions with cleanlab and log the ranking; a rerun is all cache hits."""
    work_dir = work_dir.resolve()
    tracking = check_run_task(data, model, tracking, work_dir, shared_dir)
    dataset_dir = gather_corpus_task(data, work_dir)
    held_out = []
    for fold in range(folds):
        fold_dir = split_fold_task(dataset_dir, fold, folds, training.seed, work_dir)
        tokenized_dir = tokenize_dataset_task(fold_dir, model, data, work_dir)
        held_out.append((fold_dir, train_model_task(tokenized_dir, model, training, work_dir)))
    issues_dir = rank_label_issues_task(held_out, data.max_length, work_dir)
    run = RunConfig(data=data, model=model, training=training, tracking=tracking,
                    work_dir=work_dir, shared_dir=shared_dir)  # fmt: skip
    logged = log_label_issues_task(run, folds, issues_dir)
    return {"issues_dir": str(issues_dir), **logged}
