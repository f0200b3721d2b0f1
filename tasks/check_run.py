"""Step: before any work, the tracking store and shared store answer and the base model fits."""

from __future__ import annotations

from pathlib import Path

from nerflow.config import DataConfig, ModelConfig, TrackingConfig
from nerflow.orchestration.caching import uncached_task
from nerflow.preflight import check_run as check_settings
from nerflow.shared import attach as attach_shared_store


def check_run(
    data: DataConfig,
    model: ModelConfig,
    tracking: TrackingConfig,
    work_dir: Path,
    shared_dir: str | None = None,
) -> TrackingConfig:
    """Fail in seconds when the run could not finish; attach `work_dir` to `shared_dir`; return
    `tracking` with its store's URI resolved, so that every later step uses that one store."""
    uri = check_settings(data, model, tracking)
    attach_shared_store(work_dir, shared_dir)
    return tracking.model_copy(update={"tracking_uri": uri})


check_run_task = uncached_task(check_run, name="check-run")
