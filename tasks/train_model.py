"""Step: fine-tune the base model on the tokenized corpus (cached on data, config and code)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from transformers import TrainerCallback

from nerflow.cache import content_key, fingerprint_path, produce
from nerflow.config import ModelConfig, TrackingConfig, TrainingConfig
from nerflow.orchestration.artifacts import PrefectProgress
from nerflow.orchestration.caching import cached_task
from nerflow.orchestration.process import is_out_of_memory
from nerflow.step_code import StepCode
from nerflow.tracking.live import live_training_run
from nerflow.training.fit import FitJob, TrainingStopped, fit
from nerflow.training.launch import launch

#: The live MLflow run and Prefect's progress only watch (the run's id is all they write here).
CODE = StepCode(
    (
        "nerflow.tasks.train_model", "nerflow.training", "nerflow.corpus",
        "nerflow.inference.device", "nerflow.inference.tokenizer", "nerflow.inference.mentions",
        "nerflow.metrics",
        "nerflow.config",
    ),
    observes=("nerflow.tracking", "nerflow.reporting.plots", "nerflow.orchestration.artifacts"),
)  # fmt: skip


def train_model(
    tokenized_dir: Path,
    model: ModelConfig,
    training: TrainingConfig,
    work_dir: Path,
    tracking: TrackingConfig | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> Path:
    """The fine-tuned model (best epoch by validation entity F1) under `work_dir/models/<key>`,
    resumed from `work_dir/checkpoints/<key>`; with `tracking`, watched in a live MLflow run
    that the logging step completes. `callbacks` (a trial's pruning) are not in the key."""
    key = content_key(fingerprint_path(tokenized_dir), model, training, CODE.version())
    checkpoints = work_dir / "checkpoints" / key

    def build(out: Path) -> None:
        job = FitJob(
            tokenized_dir=tokenized_dir, model=model, training=training,
            checkpoints=checkpoints, out=out, key=key,
        )  # fmt: skip
        # With LOCAL_RANK set this process is already a torchrun rank: it trains here.
        if training.processes > 1 and "LOCAL_RANK" not in os.environ:
            launch(job)
        else:
            watch = live_training_run(tracking, key, out) if tracking else nullcontext()
            with watch as live:
                watching = [PrefectProgress(), *([live] if live else []), *callbacks]
                fit(job, watching)

    try:
        folder = produce(work_dir / "models" / key, build)
    except TrainingStopped:
        shutil.rmtree(checkpoints, ignore_errors=True)  # stopped for good: nothing to resume
        raise
    shutil.rmtree(checkpoints, ignore_errors=True)
    return folder


def _retry_unless_stopped(task: object, run: object, state: object) -> bool:
    """Retry a failed training (it resumes from its checkpoints), not a stopped one, nor one
    that ran out of memory (it would again, after a pause)."""
    try:
        state.result()  # type: ignore[attr-defined]
    except TrainingStopped:
        return False
    except BaseException as exc:
        return not is_out_of_memory(exc)
    return False


train_model_task = cached_task(
    train_model,
    CODE,
    name="train-model",
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=_retry_unless_stopped,
)
