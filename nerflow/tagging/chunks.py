"""A tagging job's chunks: chunk N's spans as JSON lines in `tagged/<key>-<N>`, published whole
like every step's folder (`nerflow.cache.produce`): a rerun reuses finished chunks."""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerflow.cache import compute_seconds, is_complete, produce
from nerflow.tagging.config import TaggingConfig
from nerflow.tracking.tagging import RegisteredVersion

if TYPE_CHECKING:
    from nerflow.inference.predict import EntityPredictor

logger = logging.getLogger(__name__)

SPANS_FILE = "spans.jsonl"
COUNTS_FILE = "counts.json"


@dataclass(frozen=True)
class TaggedChunks:
    """A job's key, its chunk folders in input order, and which of them this call tagged."""

    key: str
    chunks: tuple[Path, ...]
    computed: tuple[int, ...]
    reused: tuple[int, ...]
    dtype: str


def tagging_dtype(precision: str) -> str:
    """The dtype the model predicts in on this machine (`auto` as `nerflow predict` picks it)."""
    from nerflow.inference.device import inference_dtype, pick_device

    return str(inference_dtype(pick_device("auto")[0], precision)).removeprefix("torch.")


def load_tagger(model: RegisteredVersion, tagging: TaggingConfig) -> EntityPredictor:
    """The version's predictor, loaded as `nerflow predict` loads a registered model."""
    from nerflow.inference.predict import EntityPredictor
    from nerflow.tracking.model import fetch_model

    weights = fetch_model(model.uri, model.tracking_uri)
    predictor = EntityPredictor(
        weights,
        tagging.max_length,
        tagging.batch_size,
        precision=tagging.precision,
    )
    network = predictor.network
    logger.info(
        "loaded %s v%s (%s) on %s in %s", model.name, model.version, model.alias,
        network.device, str(network.dtype).removeprefix("torch."),
    )  # fmt: skip
    return predictor


def tag_texts(predictor: EntityPredictor, texts: list[str]) -> list[list[dict[str, Any]]]:
    """Each text's spans as the predict path and the logged model return them."""
    return [[span.as_dict() for span in spans] for spans in predictor.predict(texts)]


def json_line(record: dict[str, Any]) -> str:
    """One JSON line; Unicode line separators escaped, so a reader that splits on them too
    still sees one line."""
    line = json.dumps(record, ensure_ascii=False)
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def write_chunk(out: Path, texts: list[str], spans: list[list[dict[str, Any]]]) -> None:
    """A chunk's JSON lines (`{"text", "spans"}` per tweet) and its counts, into `out`."""
    counts: Counter[str] = Counter(tweets=len(texts))
    with (out / SPANS_FILE).open("w", encoding="utf-8") as handle:
        for text, found in zip(texts, spans, strict=True):
            handle.write(json_line({"text": text, "spans": found}))
            counts["empty_tweets"] += not text.strip()
            counts["spans"] += len(found)
            counts.update(f"spans_{span['type']}" for span in found)
    (out / COUNTS_FILE).write_text(json.dumps(dict(counts)), encoding="utf-8")


def chunk_counts(folder: Path) -> dict[str, int]:
    """Tweets, empty tweets, spans and spans per type (`spans_PER`, ...) of a finished chunk."""
    counts: dict[str, int] = json.loads((folder / COUNTS_FILE).read_text(encoding="utf-8"))
    return counts


def tag_job(
    texts: list[str],
    bounds: list[tuple[int, int]],
    folder: Path,
    key: str,
    load: Callable[[], EntityPredictor],
    dtype: str,
) -> TaggedChunks:
    """Tag each `[start, end)` chunk of `texts` not already finished in `folder/<key>-<N>`."""
    # The model is loaded once, and only when some chunk is missing: a finished job loads none.
    predictor = functools.cache(load)
    chunks: list[Path] = []
    computed: list[int] = []
    reused: list[int] = []
    for index, (start, end) in enumerate(bounds):
        chunk = folder / f"{key}-{index:06d}"
        where = f"chunk {index + 1}/{len(bounds)} (tweets {start + 1}-{end})"
        if not is_complete(chunk):
            predictor()  # loaded before the chunk's clock starts: its time is tagging time
        if _produce_chunk(chunk, texts[start:end], predictor):
            computed.append(index)
            seconds = compute_seconds(chunk) or 0.0
            rate = f" ({(end - start) / seconds:.0f} tweets/s)" if seconds > 0 else ""
            logger.info("%s: tagged in %.2f s%s", where, seconds, rate)
        else:
            reused.append(index)
            logger.info("%s: already tagged by an earlier run, reused", where)
        chunks.append(chunk)
    return TaggedChunks(key, tuple(chunks), tuple(computed), tuple(reused), dtype)


def _produce_chunk(chunk: Path, texts: list[str], predictor: Callable[[], Any]) -> bool:
    """Publish the chunk's folder unless it is complete; True when this call tagged it."""
    tagged: list[bool] = []

    def build(out: Path) -> None:
        write_chunk(out, texts, tag_texts(predictor(), texts))
        tagged.append(True)

    produce(chunk, build)
    return bool(tagged)
