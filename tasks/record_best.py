"""Step: which registered version the study's best trial became, on the study's run."""

from __future__ import annotations

from typing import Any

from nerflow.tasks.open_study import StudyRef

from nerflow.orchestration.caching import uncached_task


def record_best(ref: StudyRef, summary: dict[str, Any]) -> dict[str, Any]:
    """Tag the study's parent run with the version and the gate's decision; return them."""
    registered = summary["mlflow"]
    promotion = summary["promotion"]
    ref.runs.record_version(
        registered["registered_model"], registered["version"], promotion["action"]
    )
    return {
        "registered_model": registered["registered_model"],
        "version": registered["version"],
        "promotion": promotion["action"],
        "reason": promotion["reason"],
        "val_f1": summary["scores"]["validation"]["overall"]["f1"],
        "test_f1": summary["scores"]["test"]["overall"]["f1"],
    }


record_best_task = uncached_task(record_best, name="record-best")
