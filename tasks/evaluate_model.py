"""Score a fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from datasets import Dataset, load_from_disk
from transformers import AutoModelForTokenClassification, DataCollatorWithPadding

from tasks.caching import (
    atomic_dir,
    cached_task,
    code_version,
    content_key,
    fingerprint_path,
    is_complete,
)
from tasks.read_conll import LABELS
from tasks.score_entities import score_entities
from tasks.tokenize_dataset import load_tokenizer
from tasks.train_model import pick_device

REPORT = "report.json"


def load_model(model_dir: Path, device: str = "auto") -> tuple[Any, Any]:
    """Tokenizer and model (safetensors only, no remote code), on the chosen device."""
    tokenizer = load_tokenizer(str(model_dir))
    network = AutoModelForTokenClassification.from_pretrained(
        str(model_dir), trust_remote_code=False, use_safetensors=True
    )
    network.to(pick_device(device)[0]).eval()
    return tokenizer, network


Aggregation = Literal["first", "average", "max"]


def predict_word_tags(
    tokenizer: Any,
    network: Any,
    sentences: list[list[str]],
    max_length: int,
    batch_size: int = 64,
    aggregation: Aggregation = "first",
) -> tuple[list[list[str]], list[list[float]]]:
    """One tag and its probability per word, batched and sorted by length.

    `first` (how the model is trained and scored) takes the word's first sub-word;
    `average` averages its sub-words' probabilities; `max` takes its most confident
    sub-word. A word with no sub-word (empty, only characters the tokenizer drops, or cut
    off by truncation) is predicted `O` with probability 0, so every word is scored.
    """
    id2label = {int(k): v for k, v in network.config.id2label.items()}
    collator = DataCollatorWithPadding(tokenizer)
    # Sorting by length keeps padding per batch small; results go back in input order.
    # (A sentence with no words has nothing to predict and cannot be encoded.)
    order = sorted(
        (i for i in range(len(sentences)) if sentences[i]), key=lambda i: len(sentences[i])
    )
    tags: list[list[str]] = [[] for _ in sentences]
    scores: list[list[float]] = [[] for _ in sentences]
    for start in range(0, len(order), batch_size):
        batch_ids = order[start : start + batch_size]
        encoded = tokenizer(
            [sentences[i] for i in batch_ids],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        features = [{k: encoded[k][j] for k in encoded} for j in range(len(batch_ids))]
        inputs = {k: v.to(network.device) for k, v in collator(features).items()}
        with torch.inference_mode():
            probabilities = network(**inputs).logits.float().softmax(-1).cpu()
        for j, i in enumerate(batch_ids):
            positions: dict[int, list[int]] = {}
            for position, word_id in enumerate(encoded.word_ids(j)):
                if word_id is not None:
                    positions.setdefault(word_id, []).append(position)
            word_tags = ["O"] * len(sentences[i])
            word_scores = [0.0] * len(sentences[i])
            for word_id, where in positions.items():
                probs = probabilities[j, where]
                if aggregation == "first":
                    chosen = probs[0]
                elif aggregation == "average":
                    chosen = probs.mean(0)
                else:
                    chosen = probs[probs.max(-1).values.argmax()]
                label = int(chosen.argmax())
                word_tags[word_id] = id2label[label]
                word_scores[word_id] = float(chosen[label])
            tags[i], scores[i] = word_tags, word_scores
    return tags, scores


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
