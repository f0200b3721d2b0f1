"""Prediction: a saved model on words (batched, sorted by length), and on raw texts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from transformers import AutoModelForTokenClassification
from transformers.utils import logging as transformers_logging

from nerflow.inference.device import inference_dtype, pick_device
from nerflow.inference.mentions import decode_mentions, decodes_mentions
from nerflow.inference.text import Span, pretokenize, spans_from_tags
from nerflow.inference.tokenizer import load_tokenizer

logger = logging.getLogger(__name__)

Aggregation = Literal["first", "average", "max"]


def load_model(
    model_dir: Path,
    device: str = "auto",
    precision: str = "fp32",
) -> tuple[Any, Any]:
    """Tokenizer and model (safetensors, no remote code) on the device; fp32 unless asked."""
    tokenizer = load_tokenizer(str(model_dir), what="model")
    target = pick_device(device)[0]
    dtype = inference_dtype(target, precision)
    # For tweet-length inputs in bf16 on a CPU, the eager attention's two small matmuls run
    # faster than the SDPA kernel (measured: about 15% more tweets/s with MiniLM-L6).
    eager = target == "cpu" and dtype == torch.bfloat16
    with _quiet_loading():
        network, loading = AutoModelForTokenClassification.from_pretrained(
            str(model_dir),
            trust_remote_code=False,
            use_safetensors=True,
            dtype=dtype,
            output_loading_info=True,
            **({"attn_implementation": "eager"} if eager else {}),
        )
    # A base model (or one trained for another task) loads too, with a random head in place
    # of the missing weights: it would tag at random without a word of warning.
    if loading["missing_keys"]:
        missing = ", ".join(sorted(loading["missing_keys"])[:3])
        raise ValueError(
            f"model {str(model_dir)!r} has no trained token-classification head (its weights "
            f"lack {missing}): give a model trained by `nerflow train`, not a base model"
        )
    labels = sorted(network.config.id2label.values())
    if not all(label == "O" or label[:2] in ("B-", "I-") for label in labels):
        raise ValueError(
            f"model {str(model_dir)!r}: its labels {', '.join(labels[:5])} are not entity tags "
            "(O, B-TYPE, I-TYPE): give a model trained by `nerflow train`"
        )
    network.to(target).eval()
    return tokenizer, network


@contextmanager
def _quiet_loading() -> Iterator[None]:
    # transformers draws a progress bar and prints a report of missing and unexpected
    # weights: noise in front of a command's output; the check after loading says what
    # matters in one line.
    level, bars = (
        transformers_logging.get_verbosity(),
        transformers_logging.is_progress_bar_enabled(),
    )
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)
        if bars:
            transformers_logging.enable_progress_bar()


def predict_word_tags(
    tokenizer: Any,
    network: Any,
    sentences: list[list[str]],
    max_length: int,
    batch_size: int = 32,
    aggregation: Aggregation = "first",
) -> tuple[list[list[str]], list[list[float]]]:
    """One tag and its probability per word, batched and sorted by length.

    `first` (how the model is trained and scored) takes the word's first sub-word;
    `average` averages its sub-words' probabilities; `max` takes its most confident one.
    A word with no sub-word (empty, dropped by the tokenizer, truncated) is `O` with 0.
    A model trained under a decoding convention (`mention-o`, `decode`) gives each `@` its
    mention's type.
    """
    id2label = {int(k): v for k, v in network.config.id2label.items()}
    rows = word_probabilities(tokenizer, network, sentences, max_length, batch_size, aggregation)
    tags: list[list[str]] = []
    scores: list[list[float]] = []
    for probabilities in rows:
        best = probabilities.argmax(-1)
        pairs = list(zip(best, probabilities, strict=True))
        # A word without sub-words has an all-zero row: O with probability 0.
        tags.append([id2label[int(k)] if row.any() else "O" for k, row in pairs])
        scores.append([float(row[k]) for k, row in pairs])
    if decodes_mentions(network.config):
        for i, words in enumerate(sentences):
            tags[i], scores[i] = decode_mentions(words, tags[i], scores[i])
    return tags, scores


def word_probabilities(
    tokenizer: Any,
    network: Any,
    sentences: list[list[str]],
    max_length: int,
    batch_size: int = 32,
    aggregation: Aggregation = "first",
) -> list[np.ndarray]:
    """Each sentence's label probabilities per word (words x labels, the model's label order).

    A word with no sub-word (empty, dropped by the tokenizer, truncated) gets a row of zeros.
    """
    # Never ask for more positions than the model has (a small model, a large --max-length).
    max_length = min(max_length, getattr(network.config, "max_position_embeddings", max_length))
    # Sorting by length keeps padding per batch small; results go back in input order.
    # (A sentence with no words has nothing to predict and cannot be encoded.)
    order = sorted(
        (i for i in range(len(sentences)) if sentences[i]), key=lambda i: len(sentences[i])
    )
    labels = len(network.config.id2label)
    out = [np.zeros((len(words), labels), dtype=np.float32) for words in sentences]
    cut = 0  # texts whose last words fell past max_length
    for start in range(0, len(order), batch_size):
        batch_ids = order[start : start + batch_size]
        encoded = tokenizer(
            [sentences[i] for i in batch_ids],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        # Pad the tokenizer's own output in one call (no per-tweet feature dicts).
        inputs = tokenizer.pad(encoded, return_tensors="pt").to(network.device)
        with torch.inference_mode():
            probabilities = network(**inputs).logits.float().softmax(-1).cpu().numpy()
        for j, i in enumerate(batch_ids):
            chosen = _word_probabilities(probabilities[j], encoded.word_ids(j), aggregation)
            for word_id, row in chosen.items():
                out[i][word_id] = row
            cut += (
                len(encoded["input_ids"][j]) >= max_length
                and max(chosen, default=-1) < len(sentences[i]) - 1
            )
    if cut:
        logger.warning(
            "%d of %d texts are longer than %d sub-words: their words past that get no entity",
            cut, len(sentences), max_length,
        )  # fmt: skip
    return out


def _word_probabilities(
    probabilities: np.ndarray, word_ids: list[int | None], aggregation: Aggregation
) -> dict[int, np.ndarray]:
    """Each word's label probabilities from its sub-words' (one tweet's rows)."""
    positions: dict[int, list[int]] = {}
    for position, word_id in enumerate(word_ids):
        if word_id is not None:
            positions.setdefault(word_id, []).append(position)
    if not positions:  # nothing the tokenizer kept: every word stays O
        return {}
    words = list(positions)
    if aggregation == "first":  # one fancy-indexing call per tweet, not per word
        chosen = probabilities[[positions[w][0] for w in words]]
    elif aggregation == "average":
        chosen = np.stack([probabilities[positions[w]].mean(0) for w in words])
    else:
        chosen = np.stack([_most_confident(probabilities[positions[w]]) for w in words])
    return dict(zip(words, chosen, strict=True))


def _most_confident(rows: np.ndarray) -> np.ndarray:
    return rows[rows.max(-1).argmax()]


class EntityPredictor:
    """A loaded model that turns texts into entity spans, batched and sorted by length."""

    def __init__(
        self,
        model_dir: Path,
        max_length: int = 128,
        batch_size: int = 32,
        aggregation: Aggregation = "first",
        device: str = "auto",
        precision: str = "auto",
    ) -> None:
        self.tokenizer, self.network = load_model(model_dir, device, precision)
        self.max_length = max_length
        self.batch_size = batch_size
        self.aggregation = aggregation

    def predict(self, texts: list[str]) -> list[list[Span]]:
        """Entity spans for each text; an empty or symbol-free text gives no spans."""
        words = [pretokenize(text) for text in texts]
        tags, scores = predict_word_tags(
            self.tokenizer,
            self.network,
            [[w.text for w in ws] for ws in words],
            self.max_length,
            self.batch_size,
            self.aggregation,
        )
        return [
            spans_from_tags(text, ws, t, s)
            for text, ws, t, s in zip(texts, words, tags, scores, strict=True)
        ]
