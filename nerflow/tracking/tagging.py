"""Runs that are not trainings: batch tagging jobs (and their model version), evaluations,
label-issue rankings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerflow.tracking import names
from nerflow.tracking.provenance import code_tags
from nerflow.tracking.registry import RegistryError
from nerflow.tracking.store import (
    TrackingStoreError,
    active_store,
    check_store,
    experiment_id,
    resolve_tracking_uri,
    run_link,
)
from nerflow.tracking.store import client as _client

if TYPE_CHECKING:
    from nerflow.evaluation import ConllScores


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a registered model, as an alias named it when the job started."""

    tracking_uri: str
    name: str
    alias: str
    version: str
    run_id: str | None
    source: str

    @property
    def uri(self) -> str:
        """The version's own `models:/` URI: it keeps naming this model if the alias moves."""
        return f"models:/{self.name}/{self.version}"

    def cache_identity(self) -> dict[str, Any]:
        """What tells this model apart in a cache key: name, version, the run that logged it."""
        # A recreated store reuses version numbers, never run ids.
        return {"name": self.name, "version": self.version, "logged_by": self.run_id or self.source}


def resolve_alias(tracking_uri: str | None, name: str, alias: str) -> RegisteredVersion:
    """The version `alias` names now, or a RegistryError saying what is missing."""
    from mlflow.exceptions import MlflowException

    uri, _ = resolve_tracking_uri(tracking_uri)
    try:
        check_store(uri, must_exist=True)
        found = _client(uri).get_model_version_by_alias(name, alias)
    except TrackingStoreError as exc:
        raise RegistryError(str(exc)) from exc
    except MlflowException as exc:
        raise RegistryError(
            f"registered model {name!r} has no version with alias {alias!r} at {uri}"
        ) from exc
    return RegisteredVersion(uri, name, alias, str(found.version), found.run_id, found.source)


def tagging_experiment(experiment: str) -> str:
    """The experiment that holds the tagging runs of a training experiment's models."""
    return f"{experiment}-tagging"


def log_tagging_run(
    model: RegisteredVersion,
    experiment: str,
    run_name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> dict[str, str]:
    """Record a finished tagging job as one MLflow run; return its id, experiment and link."""
    from mlflow.entities import Metric, Param

    uri, artifact_location = resolve_tracking_uri(model.tracking_uri)
    experiment_ref = experiment_id(uri, experiment, artifact_location)
    client = _client(uri)
    all_tags = {
        names.KIND_TAG: "tagging",
        names.MODEL_VERSION_TAG: model.version,
        names.REGISTERED_MODEL_TAG: model.name,
        **code_tags(),
        **tags,
    }
    run = client.create_run(experiment_ref, tags=all_tags, run_name=run_name)
    run_id = str(run.info.run_id)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
        params=[Param(key, value) for key, value in params.items()],
    )
    client.set_terminated(run_id)
    return {
        "run_id": run_id,
        "experiment": experiment,
        "experiment_id": experiment_ref,
        "tracking_uri": uri,
        "run_url": run_link(uri, experiment_ref, run_id),
    }


def log_evaluation(
    tracking_uri: str | None, experiment: str, params: dict[str, str], scores: ConllScores
) -> str:
    """Record a `nerflow evaluate` result as its own MLflow run; return the run id."""
    import mlflow

    from nerflow.metrics.scores import flat_metrics  # here: the tagging step's key has no metrics

    uri, artifact_location = resolve_tracking_uri(tracking_uri)
    experiment_ref = experiment_id(uri, experiment, artifact_location)
    with (
        active_store(uri),
        mlflow.start_run(experiment_id=experiment_ref, tags={names.KIND_TAG: "evaluation"}) as run,
    ):
        mlflow.log_params(params)
        plain = scores.model_dump(mode="json")
        mlflow.log_metrics(flat_metrics(plain))
        mlflow.log_dict(plain, f"{names.EVALUATION_DIR}/scores.json")
    return str(run.info.run_id)


def log_label_issues(
    tracking_uri: str | None,
    experiment: str,
    kind: str,
    params: dict[str, str],
    metrics: dict[str, float],
    issues_dir: Path,
) -> dict[str, str]:
    """Record a label-issue ranking (its files as artifacts) as an MLflow run of `kind` in
    the training experiment's `-labels` experiment; return its id, experiment and links."""
    import mlflow

    uri, artifact_location = resolve_tracking_uri(tracking_uri)
    name = f"{experiment}-labels"
    experiment_ref = experiment_id(uri, name, artifact_location)
    with (
        active_store(uri),
        mlflow.start_run(
            experiment_id=experiment_ref, tags={names.KIND_TAG: kind, **code_tags()}
        ) as run,
    ):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(issues_dir), names.LABEL_ISSUES_DIR)
        artifacts = mlflow.get_artifact_uri(names.LABEL_ISSUES_DIR)
    run_id = str(run.info.run_id)
    return {
        "run_id": run_id,
        "experiment": name,
        "artifacts": artifacts,
        "run_url": run_link(uri, experiment_ref, run_id),
    }
