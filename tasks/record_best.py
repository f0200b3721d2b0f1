"""Step: which registered version the study's best trial became, on the study's run."""

from __future__ import annotations

from typing import Any

from nerflow.tasks.open_study import StudyRef

from nerflow.orchestration.caching import uncached_task
from nerflow.reporting.summary import RunSummary


def record_best(ref: StudyRef, summary: dict[str, Any]) -> dict[str, Any]:
    """Tag the study's parent run with the version and the gate's decision; return them."""
    run = RunSummary.model_validate(summary)
    registered, promotion = run.mlflow, run.promotion
    ref.runs.record_version(registered.registered_model, registered.version, promotion.action)
    return {
        "registered_model": registered.registered_model,
        "version": registered.version,
        "promotion": promotion.action,
        "reason": promotion.reason,
        "val_f1": run.scores["validation"].f1,
        "test_f1": run.scores["test"].f1,
    }


record_best_task = uncached_task(record_best, name="record-best")
