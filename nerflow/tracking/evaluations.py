"""`nerflow evaluate --log-to-mlflow`: a scoring of any CoNLL data as its own MLflow run."""

from __future__ import annotations

from typing import Any

from nerflow.metrics.scores import flat_metrics
from nerflow.tracking.store import active_store, experiment_id, resolve_tracking_uri


def log_evaluation(
    tracking_uri: str | None, experiment: str, params: dict[str, str], scores: dict[str, Any]
) -> str:
    """Record a `nerflow evaluate` result as its own MLflow run; return the run id."""
    import mlflow

    uri, artifact_location = resolve_tracking_uri(tracking_uri)
    experiment_ref = experiment_id(uri, experiment, artifact_location)
    with (
        active_store(uri),
        mlflow.start_run(experiment_id=experiment_ref, tags={"nerflow.kind": "evaluation"}) as run,
    ):
        mlflow.log_params(params)
        mlflow.log_metrics(flat_metrics(scores))
        mlflow.log_dict(scores, "evaluation/scores.json")
    return str(run.info.run_id)
