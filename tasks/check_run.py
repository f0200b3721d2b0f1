"""Step: before any work, the tracking store answers and the base model fits the settings."""

from __future__ import annotations

from nerflow.config import DataConfig, ModelConfig, TrackingConfig
from nerflow.orchestration.caching import uncached_task
from nerflow.preflight import check_run as check_settings


def check_run(data: DataConfig, model: ModelConfig, tracking: TrackingConfig) -> str:
    """Fail in seconds when the run could not finish; return the tracking URI."""
    return check_settings(data, model, tracking)


check_run_task = uncached_task(check_run, name="check-run")
