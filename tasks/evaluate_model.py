"""Score a fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk

from tasks.caching import (
    atomic_dir,
    cached_task,
    code_version,
    content_key,
    fingerprint_path,
    is_complete,
)
from tasks.predict_entities import load_model, predict_word_tags
from tasks.read_conll import LABELS
from tasks.score_entities import score_entities

REPORT = "report.json"


def evaluate_model(model_dir: Path, dataset_dir: Path, max_length: int, work_dir: Path) -> Path:
    """Write a JSON report of entity-level scores on validation and test; return its folder."""
    key = content_key(
        fingerprint_path(model_dir),
        fingerprint_path(dataset_dir),
        max_length,
        code_version(evaluate_model),
    )
    out = work_dir / "reports" / key
    if is_complete(out):
        return out
    splits = load_from_disk(str(dataset_dir / "dataset"))
    tokenizer, network = load_model(model_dir)
    report: dict[str, Any] = {"max_length": max_length, "scored_per": "word", "splits": {}}
    for split in ("validation", "test"):
        ds: Dataset = splits[split]
        names = ds.features["ner_tags"].feature.names
        gold = [[names[t] for t in tags] for tags in ds["ner_tags"]]
        predicted, _ = predict_word_tags(tokenizer, network, ds["tokens"], max_length)
        scores = score_entities(gold, predicted)
        scores["tweets"] = len(ds)
        report["splits"][split] = scores
        report.setdefault("predictions", {})[split] = predicted
    report["labels"] = list(LABELS)
    with atomic_dir(out, key) as scratch:
        (scratch / REPORT).write_text(json.dumps(report), encoding="utf-8")
    return out


def read_report(report_dir: Path) -> dict[str, Any]:
    """The report `evaluate_model` wrote."""
    return json.loads((report_dir / REPORT).read_text(encoding="utf-8"))


evaluate_model_task = cached_task(evaluate_model, name="evaluate-model")
