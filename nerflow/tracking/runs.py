"""A training run in MLflow: params, metrics, curves, dataset, evaluation and the model."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nerflow.config import RunConfig
from nerflow.corpus.manifest import eval_fingerprint, read_manifest
from nerflow.corpus.tokenize import read_stats
from nerflow.evaluation import read_report
from nerflow.metrics.scores import flat_metrics
from nerflow.outputs import compute_seconds
from nerflow.reporting.descriptions import NOTE_TAG, champion_line, run_note
from nerflow.reporting.model_card import model_card
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.contents import (
    flatten_params,
    log_data_curve,
    log_datasets,
    log_evaluation_artifacts,
    log_history,
)
from nerflow.tracking.live import live_run
from nerflow.tracking.locks import registry_lock
from nerflow.tracking.model import log_model
from nerflow.tracking.notes import describe_version
from nerflow.tracking.provenance import (
    OWNER_TAG,
    code_tags,
    end_abandoned_runs,
    system_tags,
    this_process,
)
from nerflow.tracking.registry import (
    DATA_TAG,
    EVAL_DATA_TAG,
    MODEL_KEY_TAG,
    STALENESS_TAG,
    find_registered,
    register_version,
)
from nerflow.tracking.store import (
    TrackingStoreError,
    active_store,
    experiment_id,
    resolve_tracking_uri,
    ui_links,
)
from nerflow.tracking.store import client as _client
from nerflow.training.fit import read_training_meta

logger = logging.getLogger(__name__)

FLOW_RUN_TAG = "prefect.flow_run_id"
#: Seconds each step cost when it was computed. MLflow's UI orders a run's chart groups by
#: name: this one sorts after `train/` and `val_by_epoch/`, so the curves come first.
STAGE_TIMES = "walltime/"


@dataclass(frozen=True)
class LoggedModel:
    """Where a trained model lives in MLflow."""

    run_id: str
    experiment_id: str
    registered_model: str
    version: str
    tracking_uri: str
    reused: bool
    data_fingerprint: str = ""
    data: str = ""  # the data version in words: `btc a+b + 1 incoming`

    def links(self) -> dict[str, str]:
        """The MLflow UI pages of its experiment's training runs, its run and its version."""
        return ui_links(
            self.tracking_uri, self.experiment_id, self.run_id, self.registered_model, self.version
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summaries and Prefect results."""
        return asdict(self)


def log_training_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    champion: ChampionScores | None = None,
    flow_run_id: str | None = None,
    flow_run_url: str | None = None,
) -> LoggedModel:
    """Log one run (params, metrics, dataset, report, model) and register the model.

    `champion`: the champion's scores on this run's data, logged beside the new model's.
    A model already registered (same trained-model fingerprint) is reported, not
    registered again: a rerun that trained nothing new adds nothing to the registry.
    """
    from mlflow.exceptions import MlflowException

    uri, _ = resolve_tracking_uri(config.tracking.tracking_uri)
    try:
        with registry_lock(uri, config.tracking.registered_model), active_store(uri):
            return _log_new_run(
                config, dataset_dir, tokenized_dir, model_dir, report_dir, champion,
                flow_run_id, flow_run_url,
            )  # fmt: skip
    except MlflowException as exc:
        if exc.error_code != "TEMPORARILY_UNAVAILABLE":
            raise
        # MLflow's message carries the SQL statement; what went wrong is its first line.
        reason = str(exc.message).strip().partition("\n")[0]
        raise TrackingStoreError(
            f"MLflow store {uri} is busy ({reason}): the run was not logged; the trained "
            "model stays cached: rerun when the store is free"
        ) from exc


def _log_new_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    champion: ChampionScores | None,
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
        if run.info.status != "FINISHED":
            # Its process was killed after registering (we hold the registry lock it logged
            # under): the version has its scores; it gets its description if it has none,
            # its run ends here, and the gate judges it next.
            if not existing.description:
                card = model_card(config, read_manifest(dataset_dir), read_report(report_dir), meta)
                name = config.tracking.registered_model
                note = run.data.tags.get(NOTE_TAG, "")
                describe_version(uri, name, str(existing.version), note, card)
            _client(uri).set_terminated(existing.run_id, status="FINISHED")
        return LoggedModel(
            run_id=existing.run_id,
            experiment_id=run.info.experiment_id,
            registered_model=config.tracking.registered_model,
            version=str(existing.version),
            tracking_uri=uri,
            reused=True,
            data_fingerprint=existing.tags.get(DATA_TAG, ""),
            data=existing.tags.get("data", ""),
        )

    experiment = experiment_id(uri, config.tracking.experiment, artifact_location)
    end_abandoned_runs(uri, experiment)
    manifest = read_manifest(dataset_dir)
    report = read_report(report_dir)
    stats = read_stats(tokenized_dir)
    tags = {
        MODEL_KEY_TAG: model_key,
        OWNER_TAG: this_process(),
        DATA_TAG: manifest["fingerprint"],
        "nerflow.base_model": config.model.base_model,
        "nerflow.device": meta["device"],
        **code_tags(),
        **system_tags(),
    }
    if flow_run_id:
        tags[FLOW_RUN_TAG] = flow_run_id
    if flow_run_url:
        tags["prefect.flow_run_url"] = flow_run_url
    name = _run_name(config, manifest["fingerprint"])
    note = run_note(manifest, report, champion_line(champion))
    live = live_run(model_dir, uri, model_key)
    history = meta["log_history"]
    if live is not None:  # opened when training started; its curves are (mostly) there
        run_id, streamed = live
        from mlflow.entities import RunTag

        client = _client(uri)
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in {**tags, NOTE_TAG: note}.items()])
        client.update_run(run_id, name=name)
        history = history[streamed:]
    else:
        # Trained elsewhere (torchrun ranks, an older nerflow): the run starts when training
        # started, so its duration and its curves' times are the training's.
        trained_from = int(1000 * float(meta.get("train_started_at", time.time())))
        opened = _client(uri).create_run(experiment, trained_from, {**tags, NOTE_TAG: note}, name)
        run_id = opened.info.run_id
    with mlflow.start_run(run_id=run_id) as run:
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
        log_history(run.info.run_id, history, meta.get("system_samples", []), uri)
        final: dict[str, float] = {"train/peak_rss_mb": float(meta.get("peak_rss_mb", 0.0))}
        for split, prefix in (("validation", "val_"), ("test", "test_")):
            final.update(flat_metrics(report["splits"][split], prefix))
        final = {name: round(value, 4) for name, value in final.items()}  # what a reader sees
        stages = {"download": dataset_dir, "tokenize": tokenized_dir, "train": model_dir}
        stages["evaluate"] = report_dir
        for stage, folder in stages.items():
            if (seconds := compute_seconds(folder)) is not None:
                final[f"{STAGE_TIMES}{stage}_s"] = seconds
        final.update(champion_metrics(champion))
        mlflow.log_metrics(final)
        if champion is not None:
            mlflow.set_tag("nerflow.champion_judged", champion.version)
        log_datasets(dataset_dir, manifest)
        log_evaluation_artifacts(report, meta["log_history"])
        mlflow.log_dict(manifest, "data/manifest.json")
        log_data_curve(uri, config.tracking.registered_model, manifest, final)
        card = model_card(config, manifest, report, meta)
        model_uri = log_model(model_dir, card)
        version_tags = {
            MODEL_KEY_TAG: model_key,
            DATA_TAG: manifest["fingerprint"],
            "base_model": config.model.base_model,
            "val_f1": f"{final['val_f1']:.4f}",
            "test_f1": f"{final['test_f1']:.4f}",
            "data": manifest["description"],
            "train_tweets": str(manifest["splits"]["train"]),
            EVAL_DATA_TAG: eval_fingerprint(manifest),
        }
        if champion is not None:
            version_tags["champion_val_f1_same_data"] = f"{final['champion_val_f1_same_data']:.4f}"
            version_tags[STALENESS_TAG] = "; ".join(
                f"champion F1 {e['f1']:.3f} on {e['file']}" for e in champion.staleness
            )[:4000]
        # One call creates the version with its scores (one transaction in the store):
        # no reader, and no process killed in between, ever sees it without them.
        version = register_version(uri, config.tracking.registered_model, model_uri, version_tags)
        try:
            describe_version(uri, config.tracking.registered_model, version, note, card)
            mlflow.log_metric(f"{STAGE_TIMES}log_s", time.perf_counter() - started)
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
        data_fingerprint=manifest["fingerprint"],
        data=manifest["description"],
    )


def champion_metrics(champion: ChampionScores | None) -> dict[str, float]:
    """The champion's scores on this run's data, and its F1 on each new incoming file."""
    if champion is None:
        return {}
    val = champion.val
    out = {
        "champion_val_f1_same_data": val.f1,
        "champion_test_f1_same_data": champion.test_f1,
        **{f"champion_val_{kind}_f1_same_data": f1 for kind, f1 in val.per_type.items()},
    }
    for entry in champion.staleness:
        out[f"champion_f1_on_new/{entry['file']}"] = entry["f1"]
    return {name: round(value, 4) for name, value in out.items()}


def _run_name(config: RunConfig, data_fingerprint: str) -> str:
    """Base model, key hyperparameters and data: what tells runs apart in the UI's list."""
    base = Path(config.model.base_model).name or config.model.base_model
    t = config.training
    length = f"{t.max_steps}steps" if t.max_steps else f"{t.epochs:g}ep"
    frozen = f"-last{config.model.train_last_layers}" if config.model.train_last_layers else ""
    return (
        f"{base}{frozen}-lr{t.learning_rate:g}-bs{t.batch_size}-{length}-data{data_fingerprint[:8]}"
    )
