"""The training flow: gather → re-tokenize → fine-tune → evaluate → MLflow registry → gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.tasks.check_run import check_run_task
from nerflow.tasks.evaluate_model import evaluate_model_task
from nerflow.tasks.gate_new_version import gate_new_version_task
from nerflow.tasks.gather_corpus import gather_corpus_task
from nerflow.tasks.log_to_mlflow import log_to_mlflow_task
from nerflow.tasks.score_champion import score_champion_task
from nerflow.tasks.summarize_run import summarize_run_task
from nerflow.tasks.tokenize_dataset import tokenize_dataset_task
from nerflow.tasks.train_model import train_model_task
from prefect import flow
from prefect.runtime import flow_run

from nerflow.config import DataConfig, ModelConfig, RunConfig, TrackingConfig, TrainingConfig
from nerflow.orchestration.process import end_open_mlflow_runs, raise_if_terminated


@flow(
    name="train-ner",
    description="Fine-tune and register a NER model on the Broad Twitter Corpus.",
    on_crashed=[end_open_mlflow_runs],
)
def train_ner(
    data: DataConfig = DataConfig(),  # noqa: B008 - frozen pydantic models are safe defaults
    model: ModelConfig = ModelConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    tracking: TrackingConfig = TrackingConfig(),  # noqa: B008
    work_dir: Path = RunConfig().work_dir,  # noqa: B008
    shared_dir: str | None = None,
) -> dict[str, Any]:
    """Run every step; cached steps are skipped when their inputs' content is unchanged."""
    work_dir = work_dir.resolve()
    tracking = check_run_task(data, model, tracking, work_dir, shared_dir)  # one store from here
    dataset_dir = gather_corpus_task(data, work_dir)
    tokenized_dir = tokenize_dataset_task(dataset_dir, model, data, work_dir)
    # The champion on this data, before anything new is trained: the fair baseline for the
    # gate, and its F1 on each new incoming file (staleness).
    champion = score_champion_task(tracking, dataset_dir, data.max_length, work_dir)
    model_dir = train_model_task(tokenized_dir, model, training, work_dir, tracking)
    report_dir = evaluate_model_task(model_dir, dataset_dir, data.max_length, work_dir)
    raise_if_terminated()  # a SIGTERM that some library swallowed still stops the run here
    run = RunConfig(data=data, model=model, training=training, tracking=tracking,
                    work_dir=work_dir, shared_dir=shared_dir)  # fmt: skip
    logged = log_to_mlflow_task(
        run, dataset_dir, tokenized_dir, model_dir, report_dir, champion, flow_run.get_id()
    )
    actor = f"prefect flow run {flow_run.get_id()}"
    decision = gate_new_version_task(logged, report_dir, champion, tracking, actor)
    return summarize_run_task(model_dir, report_dir, logged, decision, champion)
