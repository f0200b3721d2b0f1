"""Entity-level scoring (the `entity_f1` evaluate module), shared by training and evaluation;
the Trainer's per-epoch metrics."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

from nerflow.config import MentionConvention
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import IGNORE
from nerflow.inference.mentions import DECODING, MENTION, decode_mentions

if TYPE_CHECKING:
    from transformers import EvalPrediction

logger = logging.getLogger(__name__)

#: The `evaluate` metric module: a folder holding `entity_f1.py`.
METRIC_DIR = Path(__file__).resolve().parent / "entity_f1"


def score_entities(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Micro/macro and per-type entity P/R/F1 and token-weighted F1, by `entity_f1/`."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted")
    return dict(entity_metric().compute(predictions=predicted, references=gold) or {})


@functools.cache
def entity_metric() -> Any:
    """The `entity_f1` metric, loaded by path (offline) and kept in memory (no cache files)."""
    import evaluate

    return evaluate.load(str(METRIC_DIR), keep_in_memory=True)


def entity_strings(tokens: list[str], tags: list[str]) -> list[str]:
    """`words/TYPE` for each entity in a tagged sentence, as seqeval reads the tags."""
    return [
        f"{' '.join(tokens[start : end + 1])}/{kind}" for kind, start, end in get_entities(tags)
    ]


def flat_metrics(scores: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten a `score_entities` result into `name: value` pairs for logging."""
    out = {
        f"{prefix}{k}": float(v)
        for k, v in scores.items()
        if isinstance(v, int | float) and k not in {"support", "words", "tweets"}
    }
    for name, values in scores["per_type"].items():
        for metric in ("precision", "recall", "f1"):
            out[f"{prefix}{name}_{metric}"] = values[metric]
    if names := scores.get("names"):  # the score on names (bare `@` entities left out)
        for metric in ("precision", "recall", "f1"):
            out[f"{prefix}names_{metric}"] = names[metric]
    return out


class EntityMetrics:
    """Entity scores of one evaluation (ignored -100 positions skipped), flattened for the log.

    With `mention_id` (the sub-word id of `@`), each lone `@` word's prediction is decoded as
    the model will decode it (`decode_mentions`), so the best epoch is picked on the scores the
    evaluation step reports.
    """

    def __init__(self, mention_id: int | None = None, special_ids: list[int] | None = None):
        self.mention_id = mention_id
        self.special_ids = [IGNORE, *(special_ids or [])]

    def __call__(self, prediction: EvalPrediction) -> dict[str, float]:
        """The flattened scores of `prediction` (the Trainer's compute_metrics)."""
        logits = prediction.predictions
        predicted = np.argmax(logits[0] if isinstance(logits, tuple) else logits, axis=-1)
        labels = np.asarray(prediction.label_ids)
        inputs = None if self.mention_id is None else np.asarray(prediction.inputs)
        gold: list[list[str]] = []
        pred: list[list[str]] = []
        for row, (p_row, l_row) in enumerate(zip(predicted, labels, strict=True)):
            keep = l_row != IGNORE
            gold.append([LABELS[i] for i in l_row[keep]])
            pred.append([LABELS[i] for i in p_row[keep]])
            if inputs is not None:
                words = self._mentions(inputs[row][: len(keep)], keep)
                pred[-1] = decode_mentions(words, pred[-1])[0]
        return flat_metrics(score_entities(gold, pred))

    def _mentions(self, ids: np.ndarray, keep: np.ndarray) -> list[str]:
        # "@" for a word that is `@` alone: its first sub-word is `@` and the next position
        # starts another word or is special (a joined "@name" goes on with a continuation).
        ends = np.append(keep[1:] | np.isin(ids[1:], self.special_ids), True)
        lone = (ids == self.mention_id) & ends
        return [MENTION if flag else "" for flag in lone[keep]]


def mention_id(tokenizer: Any, convention: MentionConvention) -> int | None:
    """The id of `@` as one sub-word when the convention decodes mentions, else None."""
    if convention not in DECODING:
        return None
    ids = tokenizer(MENTION, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        logger.warning(
            "the tokenizer splits '@' into %d sub-words: per-epoch validation scores without "
            "the @-mention decoding rule", len(ids),
        )  # fmt: skip
        return None
    return int(ids[0])
