"""What a training run holds besides params and final scores: curves, datasets, evaluation."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

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


def log_history(
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


def log_datasets(dataset_dir: Path, manifest: dict[str, Any]) -> None:
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
