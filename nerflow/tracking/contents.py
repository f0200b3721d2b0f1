"""What a training run holds: its params, curves, datasets and evaluation."""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nerflow.reporting.plots import save_figures
from nerflow.tracking.store import client as _client


def log_evaluation_artifacts(report: dict[str, Any], history: list[dict[str, Any]]) -> None:
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


#: Trainer log entries that repeat another metric or say nothing about the model.
_SKIPPED = {"step", "time", "total_flos", "train_runtime", "train_steps_per_second", "epoch"}
_EVAL_COST = ("_runtime", "_samples_per_second", "_steps_per_second")


def history_metrics(history: list[dict[str, Any]], samples: list[dict[str, float]]) -> list[Any]:
    """The training's curves as MLflow metrics at their step and wall-clock time, grouped by
    name: `train/...` per logging step, `val_by_epoch/...` per evaluation, `system/...` (as
    MLflow names system metrics) per sample. The Trainer's closing averages that repeat
    another figure are dropped; its mean loss is `train/mean_loss`."""
    from mlflow.entities import Metric

    now = time.time()
    metrics = []
    for entry in history:
        step = int(entry.get("step", 0))
        at = int(1000 * float(entry.get("time", now)))
        closing = "train_runtime" in entry
        for name, value in entry.items():
            if name in _SKIPPED or not isinstance(value, int | float) or name.endswith(_EVAL_COST):
                continue
            if closing:
                metric = "train/mean_loss" if name == "train_loss" else f"train/{name}"
            elif name.startswith("eval_"):
                metric = "val_by_epoch/" + name.removeprefix("eval_")
            else:
                metric = "train/" + name
            metrics.append(Metric(metric, float(value), at, step))
        if "epoch" in entry and not closing:
            metrics.append(Metric("train/epoch", float(entry["epoch"]), at, step))
    for sample in samples:
        step = int(sample["step"])
        at = int(1000 * float(sample.get("time", now)))
        for name, value in sample.items():
            if name not in {"step", "time"}:
                metrics.append(Metric(f"system/{name}", float(value), at, step))
    return metrics


def log_history(
    run_id: str, history: list[dict[str, Any]], samples: list[dict[str, float]], uri: str
) -> None:
    """Log `history_metrics` in batches."""
    metrics = history_metrics(history, samples)
    for start in range(0, len(metrics), 1000):
        _client(uri).log_batch(run_id, metrics=metrics[start : start + 1000])


def log_datasets(dataset_dir: Path, manifest: dict[str, Any]) -> None:
    """Each split as an MLflow dataset input: its rows' profile, the data version as digest,
    where it came from as source, and the files that made it (name, SHA-256, tweets,
    entities) as input tags."""
    import mlflow
    from datasets import load_from_disk
    from mlflow.data.pandas_dataset import from_pandas

    splits = load_from_disk(str(dataset_dir / "dataset"))
    for split, context in (("train", "training"), ("validation", "validation"), ("test", "test")):
        entries = [e for e in manifest["sources"] if e["split"] == split]
        with warnings.catch_warnings():
            # A file:// source matches two registered kinds of MLflow's local source (the
            # same class twice); MLflow warns and takes it, which is right.
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            dataset = from_pandas(
                splits[split].to_pandas(),
                source=_source_uri(manifest, entries),
                name=f"{manifest['description']} / {split}",
                digest=manifest["split_fingerprints"][split][:10],
            )
        mlflow.log_input(dataset, context=context, tags={"files": files_tag(entries)})


def files_tag(entries: list[dict[str, Any]]) -> str:
    """The files that made a split, as one input tag within MLflow's 500 characters: each
    file's name, SHA-256, tweets and entities while they fit, else the names (cut short if
    need be); the run's `data/manifest.json` holds the full record of every file."""
    from mlflow.utils.validation import MAX_INPUT_TAG_VALUE_SIZE as LIMIT

    detailed = "; ".join(
        f"{e['origin']}:{e['name']} sha256 {e.get('sha256', e.get('revision') or '-')[:12]}"
        f" {e['tweets']} tweets {e['entities']}"
        for e in entries
    )
    if len(detailed) <= LIMIT:
        return detailed
    named = f"{len(entries)} files (each one's SHA-256, tweets, entities: data/manifest.json): "
    named += ", ".join(f"{e['origin']}:{e['name']}" for e in entries)
    return named if len(named) <= LIMIT else named[: LIMIT - 4] + " ..."


def _source_uri(manifest: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """The upstream URL of pinned BTC files, a hub id, or the local folder of the files."""
    from nerflow.corpus.sources import BTC_URL

    if manifest.get("btc_commit") and all(e["origin"] == "btc" for e in entries):
        return BTC_URL.format(commit=manifest["btc_commit"], name="").rstrip("/")
    if not entries or "path" not in entries[0]:
        return str(entries[0]["name"]) if entries else "unknown"
    folders = {str(Path(e["path"]).parent) for e in entries if "path" in e}
    return Path(sorted(folders)[0]).as_uri()


def log_data_curve(uri: str, name: str, manifest: dict[str, Any], final: dict[str, float]) -> None:
    """The figure of F1 against training tweets over the versions scored on these splits."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from nerflow.corpus.manifest import eval_fingerprint
    from nerflow.reporting.plots import data_curve_figure
    from nerflow.tracking.registry import EVAL_DATA_TAG, versions_of

    points = [
        {"train_tweets": manifest["splits"]["train"], "val_f1": final["val_f1"],
         "test_f1": final["test_f1"], "label": "this run"}
    ]  # fmt: skip
    try:
        versions = versions_of(_client(uri), name)
    except MlflowException:
        versions = []
    same_splits = eval_fingerprint(manifest)
    for version in versions:
        tags = version.tags
        if tags.get(EVAL_DATA_TAG) == same_splits and "train_tweets" in tags:
            points.append(
                {"train_tweets": int(tags["train_tweets"]), "val_f1": float(tags["val_f1"]),
                 "test_f1": float(tags["test_f1"]), "label": f"v{version.version}"}
            )  # fmt: skip
    points.sort(key=lambda p: (p["train_tweets"], p["label"]))
    mlflow.log_figure(data_curve_figure(points), "figures/f1_vs_training_tweets.png")
    mlflow.log_dict({"points": points}, "data/f1_vs_training_tweets.json")


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
