"""A training run in MLflow: params, metrics, curves, dataset, evaluation and the model."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel

from nerflow.config import RunConfig
from nerflow.corpus.sources import read_manifest
from nerflow.corpus.tokenize import read_stats
from nerflow.evaluation import read_report
from nerflow.metrics.scores import flat_metrics
from nerflow.outputs import compute_seconds
from nerflow.reporting.model_card import model_card
from nerflow.tracking.contents import log_datasets, log_evaluation_artifacts, log_history
from nerflow.tracking.locks import registry_lock
from nerflow.tracking.model import log_model
from nerflow.tracking.registry import (
    DATA_TAG,
    MODEL_KEY_TAG,
    find_registered,
    register_version,
    remove_unscored_versions,
)
from nerflow.tracking.store import active_store, experiment_id, resolve_tracking_uri
from nerflow.tracking.store import client as _client
from nerflow.training.fit import read_training_meta

logger = logging.getLogger(__name__)

FLOW_RUN_TAG = "prefect.flow_run_id"
#: `host pid start-time` of the process logging a run (`_end_abandoned_runs` reads it).
OWNER_TAG = "nerflow.owner"


@dataclass(frozen=True)
class LoggedModel:
    """Where a trained model lives in MLflow."""

    run_id: str
    experiment_id: str
    registered_model: str
    version: str
    tracking_uri: str
    reused: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summaries and Prefect results."""
        return asdict(self)


def flatten_params(config: BaseModel, prefix: str = "") -> dict[str, str]:
    """`section.field: value` pairs for every setting in a config model."""
    out: dict[str, str] = {}
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            out.update(flatten_params(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = str(value)
    return out


def log_training_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    flow_run_id: str | None = None,
    flow_run_url: str | None = None,
) -> LoggedModel:
    """Log one run (params, metrics, dataset, report, model) and register the model.

    A model already registered (same trained-model fingerprint) is reported, not
    registered again: a rerun that trained nothing new adds nothing to the registry.
    """
    uri, _ = resolve_tracking_uri(config.tracking.tracking_uri)
    with registry_lock(uri, config.tracking.registered_model), active_store(uri):
        return _log_new_run(
            config, dataset_dir, tokenized_dir, model_dir, report_dir, flow_run_id, flow_run_url
        )


def _log_new_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    flow_run_id: str | None,
    flow_run_url: str | None,
) -> LoggedModel:
    import mlflow

    started = time.perf_counter()
    uri, artifact_location = resolve_tracking_uri(config.tracking.tracking_uri)
    meta = read_training_meta(model_dir)
    model_key = meta["key"]
    existing = find_registered(uri, config.tracking.registered_model, model_key)
    if existing is not None:
        run = _client(uri).get_run(existing.run_id)
        logger.info("model %s is already version %s: nothing logged", model_key, existing.version)
        return LoggedModel(
            run_id=existing.run_id,
            experiment_id=run.info.experiment_id,
            registered_model=config.tracking.registered_model,
            version=str(existing.version),
            tracking_uri=uri,
            reused=True,
        )

    experiment = experiment_id(uri, config.tracking.experiment, artifact_location)
    _end_abandoned_runs(uri, experiment)
    for stale in remove_unscored_versions(uri, config.tracking.registered_model, model_key):
        logger.warning("removed version %s of this model: it was registered without scores", stale)
    manifest = read_manifest(dataset_dir)
    report = read_report(report_dir)
    stats = read_stats(tokenized_dir)
    tags = {
        MODEL_KEY_TAG: model_key,
        OWNER_TAG: _this_process(),
        DATA_TAG: manifest["fingerprint"],
        "nerflow.base_model": config.model.base_model,
        "nerflow.device": meta["device"],
        **_code_tags(),
        **_system_tags(),
    }
    if flow_run_id:
        tags[FLOW_RUN_TAG] = flow_run_id
    if flow_run_url:
        tags["prefect.flow_run_url"] = flow_run_url
    name = _run_name(config, manifest["fingerprint"])
    with mlflow.start_run(
        experiment_id=experiment, run_name=name, tags=tags, log_system_metrics=True
    ) as run:
        params = flatten_params(config)
        params.update(
            {
                "data.fingerprint": manifest["fingerprint"],
                "data.train_tweets": str(manifest["splits"]["train"]),
                "data.validation_tweets": str(manifest["splits"]["validation"]),
                "data.test_tweets": str(manifest["splits"]["test"]),
                "data.truncated_train_tweets": str(stats["train"]["truncated"]),
                "train.device": meta["device"],
                "train.precision": meta["precision"],
                "train.trainable_parameters": str(meta["trainable_parameters"]),
            }
        )
        mlflow.log_params(params)
        log_history(run.info.run_id, meta["log_history"], meta.get("system_samples", []), uri)
        final: dict[str, float] = {
            "train_seconds": float(meta["train_seconds"]),
            "train_peak_rss_mb": float(meta.get("peak_rss_mb", 0.0)),
        }
        for split, prefix in (("validation", "val_"), ("test", "test_")):
            final.update(flat_metrics(report["splits"][split], prefix))
        stages = {"download": dataset_dir, "tokenize": tokenized_dir, "train": model_dir}
        stages["evaluate"] = report_dir
        for stage, folder in stages.items():
            if (seconds := compute_seconds(folder)) is not None:
                final[f"time_{stage}_s"] = seconds
        mlflow.log_metrics(final)
        log_datasets(dataset_dir, manifest)
        log_evaluation_artifacts(report, meta["log_history"])
        mlflow.log_dict(manifest, "data/manifest.json")
        model_uri = log_model(model_dir, model_card(config, manifest, report, meta))
        version_tags = {
            MODEL_KEY_TAG: model_key,
            DATA_TAG: manifest["fingerprint"],
            "base_model": config.model.base_model,
            "val_f1": f"{final['val_f1']:.4f}",
            "test_f1": f"{final['test_f1']:.4f}",
        }
        # One call creates the version with its scores (one transaction in the store):
        # no reader, and no process killed in between, ever sees it without them.
        version = register_version(uri, config.tracking.registered_model, model_uri, version_tags)
        try:
            mlflow.log_metric("time_log_s", time.perf_counter() - started)
        except BaseException:
            # The run failed after all: a version must not outlive its run's failure.
            _client(uri).delete_model_version(config.tracking.registered_model, version)
            raise
    return LoggedModel(
        run_id=run.info.run_id,
        experiment_id=experiment,
        registered_model=config.tracking.registered_model,
        version=version,
        tracking_uri=uri,
        reused=False,
    )


def _end_abandoned_runs(uri: str, experiment_id: str) -> None:
    """Mark training runs whose logging process is known dead as KILLED.

    A run is ended only when its owner (host, pid and start time, tagged when it opened)
    ran on this machine and is gone: a RUNNING run of a live process, of another machine,
    or of an older nerflow that did not tag its owner is left alone.
    """
    client = _client(uri)
    for run in client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        owner = run.data.tags.get(OWNER_TAG)
        if MODEL_KEY_TAG in run.data.tags and owner and _is_dead(owner):
            client.set_tag(run.info.run_id, "nerflow.ended_by", f"next run: {owner} is dead")
            client.set_terminated(run.info.run_id, status="KILLED")
            logger.warning("MLflow run %s: its process died; marked KILLED", run.info.run_id)


def _this_process() -> str:
    """`host pid start-time` of this process: who owns the runs it opens."""
    started = psutil.Process().create_time()
    return f"{socket.gethostname()} {os.getpid()} {started:.2f}"


def _is_dead(owner: str) -> bool:
    """True when `owner` (as `_this_process` wrote it) ran here and has exited."""
    try:
        host, pid, started = owner.split()
        process = psutil.Process(int(pid)) if host == socket.gethostname() else None
    except psutil.NoSuchProcess:
        return True
    except ValueError:
        return False  # not a tag this code wrote: nothing is known about its owner
    # Another machine's process cannot be seen from here; a reused pid has another start.
    return process is not None and abs(process.create_time() - float(started)) > 0.05


def _run_name(config: RunConfig, data_fingerprint: str) -> str:
    """Base model, key hyperparameters and data: what tells runs apart in the UI's list."""
    base = Path(config.model.base_model).name or config.model.base_model
    t = config.training
    length = f"{t.max_steps}steps" if t.max_steps else f"{t.epochs:g}ep"
    frozen = f"-last{config.model.train_last_layers}" if config.model.train_last_layers else ""
    return (
        f"{base}{frozen}-lr{t.learning_rate:g}-bs{t.batch_size}-{length}-data{data_fingerprint[:8]}"
    )


def _code_tags() -> dict[str, str]:
    """The git commit of the code that ran (MLflow's own tag names), and whether it was dirty."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if commit.returncode != 0:
        return {}
    return {
        "mlflow.source.git.commit": commit.stdout.strip(),
        "nerflow.git_dirty": str(bool(status.stdout.strip())).lower(),
    }


def _system_tags() -> dict[str, str]:
    import platform

    import psutil
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "system.cpus": str(os.cpu_count()),
        "system.memory_gb": f"{psutil.virtual_memory().total / 2**30:.0f}",
        "system.gpu": gpu,
        "system.python": platform.python_version(),
        "system.torch": torch.__version__,
    }
