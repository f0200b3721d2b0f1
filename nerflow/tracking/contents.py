"""What a training run holds: its params, curves, datasets and evaluation."""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nerflow.corpus.manifest import Manifest, SourceEntry
from nerflow.reporting.plots import save_figures
from nerflow.tracking import names
from nerflow.tracking.store import client as _client

if TYPE_CHECKING:
    # Not at run time: training imports this module, and its step key does not cover evaluation.
    from nerflow.evaluation import EvaluationReport


def log_evaluation_artifacts(report: EvaluationReport, history: list[dict[str, Any]]) -> None:
    """Figures, classification reports (JSON and text) and the sample-predictions table."""
    import mlflow
    import pandas

    with tempfile.TemporaryDirectory() as tmp:
        save_figures(report, history, Path(tmp))
        mlflow.log_artifacts(tmp, artifact_path=names.FIGURES_DIR)
    folder = names.EVALUATION_DIR
    for split, scores in report.splits.items():
        mlflow.log_text(scores.report_text, f"{folder}/classification_report_{split}.txt")
        plain = scores.model_dump(exclude={"report_text"})
        mlflow.log_dict(plain, f"{folder}/classification_report_{split}.json")
    if samples := report.validation_samples:
        table = pandas.DataFrame([row.model_dump() for row in samples])
        mlflow.log_table(table, artifact_file=f"{folder}/validation_samples_errors_first.json")
    plain_report = report.model_dump(exclude={"validation_samples"})
    mlflow.log_dict(plain_report, f"{folder}/report.json")


#: Trainer log entries that repeat another metric or say nothing about the model.
_SKIPPED = {"step", "time", "total_flos", "train_runtime", "train_steps_per_second", "epoch"}
_EVAL_COST = ("_runtime", "_samples_per_second", "_steps_per_second")


def history_metrics(history: list[dict[str, Any]], samples: list[dict[str, float]]) -> list[Any]:
    """The training's curves as MLflow metrics at their step and wall-clock time."""
    # `train/...` per logging step, `val_by_epoch/...` per evaluation, `system/...` (as MLflow
    # names system metrics) per sample; the Trainer's closing averages that repeat another
    # figure are dropped, its mean loss is `train/mean_loss`.
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
            if closing and name == "train_loss":
                metric = f"{names.TRAIN_PREFIX}mean_loss"
            elif name.startswith("eval_") and not closing:  # the Trainer's name for validation
                metric = names.VAL_BY_EPOCH_PREFIX + name.removeprefix("eval_")
            else:
                metric = names.TRAIN_PREFIX + name
            metrics.append(Metric(metric, float(value), at, step))
        if "epoch" in entry and not closing:
            metrics.append(Metric(f"{names.TRAIN_PREFIX}epoch", float(entry["epoch"]), at, step))
    for sample in samples:
        step = int(sample["step"])
        at = int(1000 * float(sample.get("time", now)))
        for name, value in sample.items():
            if name not in {"step", "time"}:
                metrics.append(Metric(f"{names.SYSTEM_PREFIX}{name}", float(value), at, step))
    return metrics


def log_history(
    run_id: str, history: list[dict[str, Any]], samples: list[dict[str, float]], uri: str
) -> None:
    """Log `history_metrics` (MLflow's client splits them into batches)."""
    _client(uri).log_batch(run_id, metrics=history_metrics(history, samples))


def log_conventions(dataset_dir: Path) -> None:
    """The data's consistency report as JSON and as Markdown tables."""
    import mlflow

    # Here, not at import: it brings in the corpus sources, and with them `datasets`.
    from nerflow.corpus.consistency import read_conventions, render_report

    report = read_conventions(dataset_dir)
    mlflow.log_dict(report.model_dump(mode="json"), names.CONVENTIONS_ARTIFACT)
    mlflow.log_text(render_report(report, "markdown"), names.CONVENTIONS_TABLE_ARTIFACT)


def log_datasets(dataset_dir: Path, manifest: Manifest) -> None:
    """Each split as an MLflow dataset input: data version as digest, files as input tags."""
    import mlflow
    from datasets import load_from_disk
    from mlflow.data.pandas_dataset import from_pandas

    splits = load_from_disk(str(dataset_dir / "dataset"))
    for split, context in (("train", "training"), ("validation", "validation"), ("test", "test")):
        entries = [e for e in manifest.sources if e.split == split]
        with warnings.catch_warnings():
            # A file:// source matches two registered kinds of MLflow's local source (the
            # same class twice); MLflow warns and takes it, which is right.
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            dataset = from_pandas(
                splits[split].to_pandas(),
                source=_source_uri(manifest, entries),
                name=f"{manifest.description} / {split}",
                digest=manifest.split_fingerprints[split][:10],
            )
        mlflow.log_input(dataset, context=context, tags={"files": files_tag(entries)})


def files_tag(entries: list[SourceEntry]) -> str:
    """The files that made a split as one input tag within MLflow's 500 characters."""
    from mlflow.utils.validation import MAX_INPUT_TAG_VALUE_SIZE as LIMIT

    detailed = "; ".join(
        f"{e.origin}:{e.name} sha256 {(e.sha256 or e.revision or '-')[:12]}"
        f" {e.tweets} tweets {e.entities}"
        for e in entries
    )
    if len(detailed) <= LIMIT:
        return detailed
    named = f"{len(entries)} files (each one's SHA-256, tweets, entities: data/manifest.json): "
    named += ", ".join(f"{e.origin}:{e.name}" for e in entries)
    return named if len(named) <= LIMIT else named[: LIMIT - 4] + " ..."


def _source_uri(manifest: Manifest, entries: list[SourceEntry]) -> str:
    """The upstream URL of pinned BTC files, a hub id, or the local folder of the files."""
    from nerflow.corpus.sources import BTC_URL

    if manifest.btc_commit and all(e.origin == "btc" for e in entries):
        return BTC_URL.format(commit=manifest.btc_commit, name="").rstrip("/")
    if not entries or entries[0].path is None:
        return entries[0].name if entries else "unknown"
    folders = {str(Path(e.path).parent) for e in entries if e.path is not None}
    return Path(sorted(folders)[0]).as_uri()


def log_data_curve(uri: str, name: str, manifest: Manifest, final: dict[str, float]) -> None:
    """The figure of F1 against training tweets over the versions scored on these splits."""
    import mlflow

    from nerflow.reporting.plots import data_curve_figure
    from nerflow.tracking.registry import versions_of

    # Each point is named as the version tags are: training tweets, validation and test F1.
    tweets, val, test = names.TRAIN_TWEETS_TAG, names.VAL_F1, names.TEST_F1
    points = [
        {tweets: manifest.splits["train"], val: final[val], test: final[test], "label": "this run"}
    ]
    same_splits = manifest.eval_fingerprint()
    for version in versions_of(_client(uri), name):
        tags = version.tags
        if tags.get(names.EVAL_DATA_TAG) == same_splits and tweets in tags:
            points.append(
                {tweets: int(tags[tweets]), val: float(tags[val]), test: float(tags[test]),
                 "label": f"v{version.version}"}
            )  # fmt: skip
    points.sort(key=lambda p: (p[tweets], p["label"]))
    figure = f"{names.FIGURES_DIR}/f1_vs_training_tweets.png"
    mlflow.log_figure(data_curve_figure(points), figure)
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
