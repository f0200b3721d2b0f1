"""Every MLflow call of the project: the tracking store, runs, the model and the registry."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from tasks.caching import compute_seconds, uncached_task
from tasks.config import RunConfig
from tasks.download_dataset import read_manifest
from tasks.evaluate_model import read_report
from tasks.plot_results import save_figures
from tasks.score_entities import flat_metrics
from tasks.tokenize_dataset import read_stats
from tasks.train_model import read_training_meta
from tasks.write_model_card import model_card

logger = logging.getLogger(__name__)

#: Version tag holding the fingerprint of the trained model folder: one version per model.
MODEL_KEY_TAG = "nerflow.model_key"
DATA_TAG = "nerflow.data_fingerprint"
FLOW_RUN_TAG = "prefect.flow_run_id"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
#: The seed article's example sentence: the logged model's input example.
SEED_EXAMPLE = "Zachary Raicik works for Corvus and lives in San Diego"


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


def default_store(root: Path | None = None) -> tuple[str, str]:
    """The project-local store: SQLite database and artifact folder under ./mlruns."""
    base = (root or Path.cwd()).resolve() / "mlruns"
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{base / 'mlflow.db'}", (base / "artifacts").as_uri()


def resolve_tracking_uri(configured: str | None) -> tuple[str, str | None]:
    """Tracking URI and, for a SQLite store, the artifact folder beside its database.

    Without this MLflow would put a SQLite store's artifacts under the current directory.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return default_store()
    if uri.startswith("sqlite:///"):
        return uri, (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return uri, None


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


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def find_registered(uri: str, registered_model: str, model_key: str) -> Any | None:
    """The registry version already holding this trained model, if any."""
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        versions = client.search_model_versions(f"name='{registered_model}'")
    except MlflowException:
        return None
    for version in versions:
        if version.tags.get(MODEL_KEY_TAG) == model_key:
            return version
    return None


def log_training_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    flow_run_id: str | None = None,
) -> LoggedModel:
    """Log one run (params, metrics, dataset, report, model) and register the model.

    A model already registered (same trained-model fingerprint) is reported, not
    registered again: a rerun that trained nothing new adds nothing to the registry.
    """
    uri, _ = resolve_tracking_uri(config.tracking.tracking_uri)
    with registry_lock(uri, config.tracking.registered_model):
        return _log_training_run(
            config, dataset_dir, tokenized_dir, model_dir, report_dir, flow_run_id
        )


@contextmanager
def registry_lock(uri: str, registered_model: str, timeout: float = 1800) -> Iterator[None]:
    """Serialize registry writes for one registered model across processes on this machine.

    Two runs finishing together would otherwise both see "not registered yet" and register
    the same model twice, or move an alias from stale reads. (Processes on other machines
    sharing a remote tracking server are not covered by a local file lock.)
    """
    digest = hashlib.sha256(f"{uri}|{registered_model}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "nerflow-locks"
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with (folder / f"registry-{digest}.lock").open("w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"registry of {registered_model!r} stayed locked for {timeout:.0f} s"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log_training_run(
    config: RunConfig,
    dataset_dir: Path,
    tokenized_dir: Path,
    model_dir: Path,
    report_dir: Path,
    flow_run_id: str | None,
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

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment_id = _experiment_id(config.tracking.experiment, artifact_location)
    _end_abandoned_runs(uri, experiment_id)
    manifest = read_manifest(dataset_dir)
    report = read_report(report_dir)
    stats = read_stats(tokenized_dir)
    tags = {
        MODEL_KEY_TAG: model_key,
        DATA_TAG: manifest["fingerprint"],
        "nerflow.base_model": config.model.base_model,
        "nerflow.device": meta["device"],
        **_code_tags(),
        **_system_tags(),
    }
    if flow_run_id:
        tags[FLOW_RUN_TAG] = flow_run_id
        if ui := _prefect_ui_url():
            tags["prefect.flow_run_url"] = f"{ui}/runs/flow-run/{flow_run_id}"
    name = _run_name(config, manifest["fingerprint"])
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=name, tags=tags, log_system_metrics=True
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
        _log_history(run.info.run_id, meta["log_history"], meta.get("system_samples", []), uri)
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
        _log_dataset(dataset_dir, manifest)
        _log_evaluation(report, meta["log_history"])
        mlflow.log_dict(manifest, "data/manifest.json")
        card = model_card(config, manifest, report, meta)
        version = _log_model(model_dir, config.tracking.registered_model, card)
        client = _client(uri)
        version_tags = {
            MODEL_KEY_TAG: model_key,
            DATA_TAG: manifest["fingerprint"],
            "base_model": config.model.base_model,
            "val_f1": f"{final['val_f1']:.4f}",
            "test_f1": f"{final['test_f1']:.4f}",
        }
        try:
            for key, value in version_tags.items():
                client.set_model_version_tag(config.tracking.registered_model, version, key, value)
            mlflow.log_metric("time_log_s", time.perf_counter() - started)
        except BaseException:
            # A version without its scores would look like a finished model: take it back.
            client.delete_model_version(config.tracking.registered_model, version)
            raise
    return LoggedModel(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        registered_model=config.tracking.registered_model,
        version=version,
        tracking_uri=uri,
        reused=False,
    )


def _end_abandoned_runs(uri: str, experiment_id: str) -> None:
    """Mark training runs left RUNNING by a killed process as KILLED.

    Called under the registry lock, where no other training run of this machine can be
    logging, so a RUNNING training run is one whose process died mid-log.
    """
    client = _client(uri)
    for run in client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        if MODEL_KEY_TAG in run.data.tags:
            client.set_tag(run.info.run_id, "nerflow.ended_by", "next run: process was killed")
            client.set_terminated(run.info.run_id, status="KILLED")
            logger.warning("MLflow run %s was left RUNNING; marked KILLED", run.info.run_id)


def _experiment_id(name: str, artifact_location: str | None) -> str:
    """The experiment's id, created if needed, marked as model training for MLflow's UI.

    Without the kind tag MLflow 3's UI opens an experiment on its GenAI (traces) view.
    """
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is None:
        return mlflow.create_experiment(
            name, artifact_location=artifact_location, tags={EXPERIMENT_KIND_TAG: TRAINING_KIND}
        )
    if found.tags.get(EXPERIMENT_KIND_TAG) is None:
        _client(mlflow.get_tracking_uri()).set_experiment_tag(
            found.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND
        )
    return str(found.experiment_id)


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


def _prefect_ui_url() -> str | None:
    from prefect.settings import PREFECT_UI_URL

    value = PREFECT_UI_URL.value()
    return str(value).rstrip("/") if value else None


def _log_evaluation(report: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Figures, classification reports (JSON and text) and the sample-predictions table."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        save_figures(report, history, Path(tmp))
        mlflow.log_artifacts(tmp, artifact_path="figures")
    for split, scores in report["splits"].items():
        mlflow.log_text(scores["report_text"], f"evaluation/classification_report_{split}.txt")
        plain = {k: v for k, v in scores.items() if k != "report_text"}
        mlflow.log_dict(plain, f"evaluation/classification_report_{split}.json")
    samples = report["validation_samples"]
    table = {column: [row[column] for row in samples] for column in samples[0]} if samples else {}
    if table:
        mlflow.log_table(table, artifact_file="evaluation/validation_samples_errors_first.json")
    mlflow.log_dict(
        {k: v for k, v in report.items() if k != "validation_samples"},
        "evaluation/report.json",
    )


def _log_history(
    run_id: str, history: list[dict[str, Any]], samples: list[dict[str, float]], uri: str
) -> None:
    """Per-step training loss, per-epoch validation scores and the machine's load while
    training (`system/...`, as MLflow names system metrics), each at its training step."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = []
    for entry in history:
        step = int(entry.get("step", 0))
        # The Trainer's closing entry holds run averages (train_loss is the mean loss):
        # logged under their own names so they do not bend the per-step curves.
        closing = "train_runtime" in entry
        for name, value in entry.items():
            if name in {"step", "total_flos"} or not isinstance(value, int | float):
                continue
            if closing:
                metric = "summary_" + name
            elif name.startswith(("eval_", "epoch")):
                metric = name
            else:
                metric = "train_" + name
            metrics.append(Metric(metric, float(value), now, step))
    for sample in samples:
        step = int(sample["step"])
        for name, value in sample.items():
            if name != "step":
                metrics.append(Metric(f"system/{name}", float(value), now, step))
    for start in range(0, len(metrics), 1000):
        _client(uri).log_batch(run_id, metrics=metrics[start : start + 1000])


def _log_dataset(dataset_dir: Path, manifest: dict[str, Any]) -> None:
    import mlflow
    from datasets import load_from_disk

    splits = load_from_disk(str(dataset_dir / "dataset"))
    for split, context in (("train", "training"), ("validation", "validation"), ("test", "test")):
        dataset = mlflow.data.huggingface_dataset.from_huggingface(
            splits[split],
            path=manifest.get("hub_id") or f"btc@{manifest.get('btc_commit') or 'local'}",
            name=f"{manifest['source']}-{split}",
            digest=f"{manifest['fingerprint'][:8]}-{split}",
        )
        mlflow.log_input(dataset, context=context)


class _TransformersWithSpans:
    """MLflow's transformers flavor, with its pyfunc flavor pointed at `tasks.ner_pyfunc`.

    `mlflow.transformers.load_model` still gives the pipeline; `mlflow.pyfunc.load_model`
    gives spans. The project's `tasks` package travels in the model's `code/` folder.
    """

    __name__ = "transformers"

    @staticmethod
    def save_model(path: str, mlflow_model: Any, model_card: str = "", **kwargs: Any) -> None:
        """Save with the transformers flavor, then swap the pyfunc loader and add the card."""
        import mlflow

        tasks_dir = Path(__file__).resolve().parent
        mlflow.transformers.save_model(
            path=path, mlflow_model=mlflow_model, code_paths=[str(tasks_dir)], **kwargs
        )
        conf = mlflow_model.flavors["python_function"]
        conf["loader_module"] = "tasks.ner_pyfunc"
        mlflow_model.save(str(Path(path) / "MLmodel"))
        for cache in Path(path, "code").rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        if model_card:
            Path(path, "README.md").write_text(model_card, encoding="utf-8")


def _log_model(model_dir: Path, registered_model: str, model_card: str) -> str:
    """Log the model (transformers pipeline + spans pyfunc + card) and register it."""
    from mlflow.models import Model
    from transformers import pipeline

    from tasks.predict_entities import load_model

    tokenizer, network = load_model(model_dir, device="cpu")
    ner = pipeline("token-classification", model=network, tokenizer=tokenizer, device="cpu")
    info = Model.log(
        artifact_path=None,
        name="model",
        flavor=_TransformersWithSpans,
        registered_model_name=registered_model,
        transformers_model=ner,
        task="token-classification",
        input_example=[SEED_EXAMPLE],
        pip_requirements=_pinned_requirements(),
        model_card=model_card,
    )
    return str(info.registered_model_version)


def _pinned_requirements() -> list[str]:
    # Explicit pins: MLflow's own inference imports torchvision (absent here, and not
    # needed for text) and loads the model a second time in a subprocess to guess them.
    from importlib.metadata import version

    pins = [
        f"{name}=={version(name).split('+')[0]}" for name in ("transformers", "torch", "accelerate")
    ]
    return [*pins, "safetensors", "tokenizers"]


def fetch_model(model: str, tracking_uri: str | None = None) -> tuple[Path, Path | None]:
    """Weights and tokenizer folders for a `models:/`/`runs:/` URI or a local model folder."""
    from mlflow.exceptions import MlflowException

    from tasks.ner_pyfunc import model_paths

    local = Path(model)
    if not local.is_dir():
        if ":/" not in model:
            raise RegistryError(f"model {model!r}: no such folder, and not a models:/ URI")
        uri, _ = resolve_tracking_uri(tracking_uri)
        import mlflow

        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)  # models:/ URIs resolve through the registry URI
        try:
            local = Path(mlflow.artifacts.download_artifacts(model))
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"model {model!r} not found at {uri}: {exc}") from exc
    if (local / "MLmodel").is_file():
        return model_paths(local)
    return local, None


def log_evaluation(
    tracking_uri: str | None, experiment: str, params: dict[str, str], scores: dict[str, Any]
) -> str:
    """Record a `nerflow evaluate` result as its own MLflow run; return the run id."""
    import mlflow

    uri, artifact_location = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    experiment_id = _experiment_id(experiment, artifact_location)
    with mlflow.start_run(experiment_id=experiment_id, tags={"nerflow.kind": "evaluation"}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(flat_metrics(scores))
        mlflow.log_dict(scores, "evaluation/scores.json")
    return str(run.info.run_id)


# ---------------------------------------------------------------- registry lifecycle

CHAMPION = "champion"
PREVIOUS = "previous-champion"
CHALLENGER = "challenger"
HISTORY_TAG = "nerflow.alias_history"
DECISION_TAG = "nerflow.promotion"


class RegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate did with a new version, and the validation scores it compared."""

    action: Literal["first-champion", "promoted", "challenger", "unchanged"]
    version: str
    champion: str
    previous_champion: str | None
    new_val_f1: float | None
    champion_val_f1: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summaries and Prefect results."""
        return asdict(self)


def _val_f1(version: Any) -> float | None:
    value = version.tags.get("val_f1")
    return float(value) if value is not None else None


def _alias_version(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _record(client: Any, name: str, version: str, event: dict[str, Any]) -> None:
    """Append an alias change to the version's history tag (what, when, from where, by whom)."""
    current = client.get_model_version(name, version).tags.get(HISTORY_TAG)
    history = json.loads(current) if current else []
    history.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), **event})
    client.set_model_version_tag(name, version, HISTORY_TAG, json.dumps(history))


def _move_alias(client: Any, name: str, alias: str, version: str, actor: str) -> str | None:
    """Point `alias` at `version`, recording the change on both versions; return the old one."""
    old = _alias_version(client, name, alias)
    old_version = str(old.version) if old is not None else None
    if old_version == version:
        return old_version
    client.set_registered_model_alias(name, alias, version)
    _record(
        client,
        name,
        version,
        {"alias": alias, "action": "set", "from_version": old_version, "by": actor},
    )
    if old_version is not None:
        _record(
            client,
            name,
            old_version,
            {"alias": alias, "action": "moved", "to_version": version, "by": actor},
        )
    return old_version


def _evaluated_version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"registered model {name!r} has no version {version!r}") from exc
    if _val_f1(found) is None:
        raise RegistryError(
            f"{name} version {version} never finished evaluation (no val_f1 tag): not promoted"
        )
    return found


def gate_new_version(
    uri: str, name: str, version: str, margin: float, actor: str, reused: bool = False
) -> PromotionDecision:
    """Promote `version` to champion if its validation F1 beats the champion's by `margin`.

    The old champion keeps `previous-champion`; a version that does not win gets
    `challenger` and a tag with both scores. The test split never decides.
    """
    with registry_lock(uri, name):
        client = _client(uri)
        new = _evaluated_version(client, name, version)
        new_f1 = _val_f1(new)
        champion = _alias_version(client, name, CHAMPION)
        champion_f1 = _val_f1(champion) if champion is not None else None
        if reused or (champion is not None and str(champion.version) == version):
            holder = str(champion.version) if champion is not None else version
            return PromotionDecision(
                "unchanged", version, holder, None, new_f1, champion_f1,
                "model already registered; no new version to judge",
            )  # fmt: skip
        if champion is None or champion_f1 is None:
            _move_alias(client, name, CHAMPION, version, actor)
            reason = f"first evaluated version: champion with val F1 {new_f1:.4f}"
            decision = PromotionDecision(
                "first-champion", version, version, None, new_f1, None, reason
            )
        elif new_f1 is not None and new_f1 > champion_f1 and new_f1 - champion_f1 >= margin:
            old = _move_alias(client, name, CHAMPION, version, actor)
            if old is not None:
                _move_alias(client, name, PREVIOUS, old, actor)
            reason = (
                f"val F1 {new_f1:.4f} beats champion v{champion.version} ({champion_f1:.4f}) "
                f"by at least {margin}"
            )
            decision = PromotionDecision(
                "promoted", version, version, old, new_f1, champion_f1, reason
            )
        else:
            _move_alias(client, name, CHALLENGER, version, actor)
            reason = (
                f"val F1 {new_f1:.4f} does not beat champion v{champion.version} "
                f"({champion_f1:.4f}) by the margin {margin}"
            )
            decision = PromotionDecision(
                "challenger", version, str(champion.version), None, new_f1, champion_f1, reason
            )
        client.set_model_version_tag(name, version, DECISION_TAG, f"{decision.action}: {reason}")
        return decision


def promote_version(uri: str, name: str, version: str, alias: str, actor: str) -> str | None:
    """Manually point `alias` at an evaluated version; champion's old holder becomes previous."""
    with registry_lock(uri, name):
        client = _client(uri)
        _evaluated_version(client, name, version)
        old = _move_alias(client, name, alias, version, actor)
        if alias == CHAMPION and old is not None and old != version:
            _move_alias(client, name, PREVIOUS, old, actor)
        return old


def rollback_champion(uri: str, name: str, actor: str) -> tuple[str, str]:
    """Move champion back to previous-champion (and previous-champion to the demoted one)."""
    with registry_lock(uri, name):
        client = _client(uri)
        previous = _alias_version(client, name, PREVIOUS)
        champion = _alias_version(client, name, CHAMPION)
        if previous is None or champion is None:
            raise RegistryError(f"{name}: nothing to roll back to (no {PREVIOUS!r} alias)")
        _move_alias(client, name, CHAMPION, str(previous.version), actor)
        _move_alias(client, name, PREVIOUS, str(champion.version), actor)
        return str(champion.version), str(previous.version)


def list_versions(uri: str, name: str) -> list[dict[str, Any]]:
    """Every version with its aliases, scores, base model, data fingerprint and creation time."""
    client = _client(uri)
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise RegistryError(f"no registered model {name!r} at {uri}")
    # search_model_versions leaves `aliases` empty; the registered model has the mapping.
    by_version: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        rows.append(
            {
                "version": str(v.version),
                "aliases": sorted(by_version.get(str(v.version), [])),
                "val_f1": v.tags.get("val_f1", ""),
                "test_f1": v.tags.get("test_f1", ""),
                "base_model": v.tags.get("base_model", ""),
                "data": v.tags.get(DATA_TAG, "")[:12],
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "run_id": v.run_id,
            }
        )
    return rows


log_training_run_task = uncached_task(log_training_run, name="log-to-mlflow")
gate_new_version_task = uncached_task(gate_new_version, name="promotion-gate")
