"""Step: log the run (params, metrics, curves, dataset, evaluation, model) and register it."""

from __future__ import annotations

from pathlib import Path

from nerflow.config import RunConfig
from nerflow.orchestration.artifacts import flow_run_url
from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.runs import LoggedModel, StepFolders, log_training_run


def log_to_mlflow(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    champion: ChampionScores | None = None,
    flow_run_id: str | None = None,
) -> LoggedModel:
    """One MLflow run and registry version per trained model; a known model is reported."""
    url = flow_run_url(flow_run_id) if flow_run_id else None
    steps = StepFolders(dataset_dir, tokenized_dir, model_dir, report_dir)
    return log_training_run(config, steps, champion, flow_run_id, url)


log_to_mlflow_task = uncached_task(log_to_mlflow, name="log-to-mlflow")
