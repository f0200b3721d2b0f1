"""A training run in MLflow: params, metrics, curves, dataset, evaluation and the model."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from nerflow.cache import compute_seconds
from nerflow.config import RunConfig
from nerflow.corpus.manifest import Manifest, read_manifest
from nerflow.corpus.tokenize import read_stats
from nerflow.evaluation import SPLITS, EvaluationReport, read_report
from nerflow.locks import registry_lock
from nerflow.metrics.scores import flat_metrics
from nerflow.reporting.descriptions import champion_line, model_card, run_note
from nerflow.tracking import contents, names, store
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.model import log_model
from nerflow.tracking.provenance import code_tags, end_abandoned_runs, system_tags, this_process
from nerflow.tracking.registry import describe_version, find_registered, register_version
from nerflow.training.meta import TrainingMeta, read_training_meta

logger = logging.getLogger(__name__)


class StepFolders(NamedTuple):
    """What the training flow's steps wrote: a training run logs all of it."""

    dataset: Path
    tokenized: Path
    model: Path
    report: Path


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
        return store.ui_links(
            self.tracking_uri, self.experiment_id, self.run_id, self.registered_model, self.version
        )


def log_training_run(
    config: RunConfig,
    steps: StepFolders,
    champion: ChampionScores | None = None,
    flow_run_id: str | None = None,
    flow_run_url: str | None = None,
) -> LoggedModel:
    """Log one run (params, metrics, dataset, report, model) and register the model."""
    from mlflow.exceptions import MlflowException

    uri, artifact_location = store.resolve_tracking_uri(config.tracking.tracking_uri)
    try:
        with registry_lock(uri, config.tracking.registered_model), store.active_store(uri):
            started = time.perf_counter()
            meta = read_training_meta(steps.model)
            found = find_registered(uri, config.tracking.registered_model, meta.key)
            if found is not None:
                return _registered(uri, config, steps, meta, found)
            experiment = store.experiment_id(uri, config.tracking.experiment, artifact_location)
            end_abandoned_runs(uri, experiment)
            flow_run = {names.FLOW_RUN_TAG: flow_run_id, names.FLOW_RUN_URL_TAG: flow_run_url}
            tags = {tag: value for tag, value in flow_run.items() if value}
            return _log_new_run(uri, experiment, config, steps, meta, champion, tags, started)
    except MlflowException as exc:
        if exc.error_code != "TEMPORARILY_UNAVAILABLE":
            raise
        # MLflow's message carries the SQL statement; what went wrong is its first line.
        reason = str(exc.message).strip().partition("\n")[0]
        raise store.TrackingStoreError(
            f"MLflow store {uri} is busy ({reason}): the run was not logged; the trained "
            "model stays cached: rerun when the store is free"
        ) from exc


def _registered(
    uri: str, config: RunConfig, steps: StepFolders, meta: TrainingMeta, found: Any
) -> LoggedModel:
    """The version `found` holding this model; a run killed after registering it ends here."""
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

    name = config.tracking.registered_model
    run = store.client(uri).get_run(found.run_id)
    logger.info("model %s is already version %s: nothing logged", meta.key, found.version)
    if run.info.status != "FINISHED":
        # Its process was killed after registering (we hold the registry lock it logged
        # under): the version has its scores; it gets its description if it has none,
        # its run ends here, and the gate judges it next.
        if not found.description:
            card = model_card(config, read_manifest(steps.dataset), read_report(steps.report), meta)
            note = run.data.tags.get(MLFLOW_RUN_NOTE, "")
            describe_version(uri, name, str(found.version), note, card)
        store.client(uri).set_terminated(found.run_id, status="FINISHED")
    version, tags = str(found.version), found.tags
    data = (tags.get(names.DATA_TAG, ""), tags.get(names.VERSION_DATA_TAG, ""))
    return LoggedModel(found.run_id, run.info.experiment_id, name, version, uri, True, *data)


def _log_new_run(
    uri: str,
    experiment: str,
    config: RunConfig,
    steps: StepFolders,
    meta: TrainingMeta,
    champion: ChampionScores | None,
    tags: dict[str, str],
    started: float,
) -> LoggedModel:
    import mlflow

    name = config.tracking.registered_model
    manifest, report = read_manifest(steps.dataset), read_report(steps.report)
    note = run_note(manifest, report, champion_line(champion))
    run_id, history = _open_run(uri, experiment, config, steps.model, meta, manifest, note, tags)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_params(_params(config, manifest, read_stats(steps.tokenized), meta))
        contents.log_history(run_id, history, meta.system_samples, uri)
        final = _metrics(steps, meta, report, champion)
        mlflow.log_metrics(final)
        if champion is not None:
            mlflow.set_tag(names.CHAMPION_JUDGED_TAG, champion.version)
        contents.log_datasets(steps.dataset, manifest)
        contents.log_evaluation_artifacts(report, meta.log_history)
        mlflow.log_dict(manifest.model_dump(mode="json"), names.MANIFEST_ARTIFACT)
        contents.log_conventions(steps.dataset)
        contents.log_data_curve(uri, name, manifest, final)
        card = model_card(config, manifest, report, meta)
        version_tags = _version_tags(config, meta, manifest, final, champion)
        # One call creates the version with its scores (one transaction in the store):
        # no reader, and no process killed in between, ever sees it without them.
        version = register_version(uri, name, log_model(steps.model, card), version_tags)
        try:
            describe_version(uri, name, version, note, card)
            mlflow.log_metric(f"{names.STAGE_TIMES_PREFIX}log_s", time.perf_counter() - started)
        except BaseException:
            # The run failed after all: a version must not outlive its run's failure.
            store.client(uri).delete_model_version(name, version)
            raise
    data_fingerprint, data = manifest.fingerprint, manifest.description
    return LoggedModel(run_id, experiment, name, version, uri, False, data_fingerprint, data)


def _open_run(
    uri: str,
    experiment: str,
    config: RunConfig,
    model_dir: Path,
    meta: TrainingMeta,
    manifest: Manifest,
    note: str,
    flow_tags: dict[str, str],
) -> tuple[str, list[dict[str, Any]]]:
    """The run that watched the training (else a new one), tagged; the entries it lacks."""
    from mlflow.entities import RunTag
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

    from nerflow.tracking.live import live_run

    tags = {
        names.MODEL_KEY_TAG: meta.key,
        names.OWNER_TAG: this_process(),
        names.DATA_TAG: manifest.fingerprint,
        names.BASE_MODEL_TAG: config.model.base_model,
        names.DEVICE_TAG: meta.device,
        **code_tags(),
        **system_tags(),
        **flow_tags,
        MLFLOW_RUN_NOTE: note,
    }
    name = _run_name(config, manifest.fingerprint)
    client = store.client(uri)
    live = live_run(model_dir, uri, meta.key)
    if live is not None:
        run_id, streamed = live
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        client.update_run(run_id, name=name)
        return run_id, meta.log_history[streamed:]
    # Trained elsewhere (torchrun ranks): the run starts when training started, so its
    # duration and its curves' times are the training's.
    opened = client.create_run(experiment, int(1000 * meta.train_started_at), tags, name)
    return str(opened.info.run_id), meta.log_history


def _params(
    config: RunConfig, manifest: Manifest, stats: dict[str, Any], meta: TrainingMeta
) -> dict[str, str]:
    """Every setting, the data's sizes and how the model was trained."""
    data, train = names.DATA_PARAM_PREFIX, names.TRAIN_PARAM_PREFIX
    return {
        **contents.flatten_params(config),
        f"{data}fingerprint": manifest.fingerprint,
        **{f"{data}{split}_tweets": str(manifest.splits[split]) for split in ("train", *SPLITS)},
        f"{data}truncated_train_tweets": str(stats["train"]["truncated"]),
        f"{train}device": meta.device,
        f"{train}precision": meta.precision,
        f"{train}trainable_parameters": str(meta.trainable_parameters),
    }


def _metrics(
    steps: StepFolders,
    meta: TrainingMeta,
    report: EvaluationReport,
    champion: ChampionScores | None,
) -> dict[str, float]:
    """Scores (as a reader sees them), peak memory, each step's seconds, the champion's."""
    final: dict[str, float] = {names.PEAK_RSS: meta.peak_rss_mb}
    for split, prefix in zip(SPLITS, (names.VAL_PREFIX, names.TEST_PREFIX), strict=True):
        final.update(flat_metrics(report.splits[split].model_dump(), prefix))
    final = {name: round(value, 4) for name, value in final.items()}
    stages = {"download": steps.dataset, "tokenize": steps.tokenized, "train": steps.model}
    for stage, folder in {**stages, "evaluate": steps.report}.items():
        if (seconds := compute_seconds(folder)) is not None:
            final[f"{names.STAGE_TIMES_PREFIX}{stage}_s"] = seconds
    return {**final, **champion_metrics(champion)}


def champion_metrics(champion: ChampionScores | None) -> dict[str, float]:
    """The champion's scores on this run's data, and its F1 on each new incoming file."""
    if champion is None:
        return {}
    val = champion.val
    out = {
        names.CHAMPION_VAL_F1: val.f1,
        names.CHAMPION_TEST_F1: champion.test_f1,
        **{names.champion_type_f1(kind): f1 for kind, f1 in val.per_type.items()},
    }
    for entry in champion.staleness:
        out[f"{names.CHAMPION_ON_NEW_PREFIX}{entry['file']}"] = entry["f1"]
    return {name: round(value, 4) for name, value in out.items()}


def _version_tags(
    config: RunConfig,
    meta: TrainingMeta,
    manifest: Manifest,
    final: dict[str, float],
    champion: ChampionScores | None,
) -> dict[str, str]:
    """What the registry shows of a version: its model, data, scores and the champion's."""
    tags = {
        names.MODEL_KEY_TAG: meta.key,
        names.DATA_TAG: manifest.fingerprint,
        names.VERSION_BASE_MODEL_TAG: config.model.base_model,
        names.VAL_F1: f"{final[names.VAL_F1]:.4f}",
        names.TEST_F1: f"{final[names.TEST_F1]:.4f}",
        names.VERSION_DATA_TAG: manifest.description,
        names.TRAIN_TWEETS_TAG: str(manifest.splits["train"]),
        names.EVAL_DATA_TAG: manifest.eval_fingerprint(),
    }
    if champion is not None:
        tags[names.CHAMPION_VAL_F1] = f"{final[names.CHAMPION_VAL_F1]:.4f}"
        tags[names.STALENESS_TAG] = "; ".join(
            f"champion F1 {e['f1']:.3f} on {e['file']}" for e in champion.staleness
        )[:4000]
    return tags


def _run_name(config: RunConfig, data_fingerprint: str) -> str:
    """Base model, key hyperparameters and data: what tells runs apart in the UI's list."""
    base = Path(config.model.base_model).name or config.model.base_model
    t = config.training
    length = f"{t.max_steps}steps" if t.max_steps else f"{t.epochs:g}ep"
    frozen = f"-last{config.model.train_last_layers}" if config.model.train_last_layers else ""
    return (
        f"{base}{frozen}-lr{t.learning_rate:g}-bs{t.batch_size}-{length}-data{data_fingerprint[:8]}"
    )
