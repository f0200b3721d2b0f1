"""A tagging job's result: the output file, its counts and throughput, and their summary."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerflow.cache import compute_seconds
from nerflow.corpus.labels import ENTITY_TYPES
from nerflow.tagging.chunks import SPANS_FILE, TaggedChunks, chunk_counts
from nerflow.tagging.config import TaggingConfig
from nerflow.tagging.tweets import TweetInput
from nerflow.tracking.tagging import RegisteredVersion


@dataclass(frozen=True)
class TaggedOutput:
    """The published output file and its counts (tweets, empty tweets, spans per type)."""

    path: Path
    counts: dict[str, int]


def publish_output(chunks: TaggedChunks, output: Path) -> TaggedOutput:
    """Every chunk's JSON lines, in input order, written aside and renamed to `output`."""
    # So a reader of `output` sees the previous file or the whole new one, never a part.
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = output.parent / f".{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    counts: Counter[str] = Counter({f"spans_{kind}": 0 for kind in ENTITY_TYPES})
    counts.update(tweets=0, empty_tweets=0, spans=0)
    try:
        with scratch.open("wb") as out:
            for chunk in chunks.chunks:
                with (chunk / SPANS_FILE).open("rb") as part:
                    shutil.copyfileobj(part, out)
                counts.update(chunk_counts(chunk))
        os.replace(scratch, output)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return TaggedOutput(output, dict(counts))


def job_metrics(chunks: TaggedChunks, output: TaggedOutput) -> dict[str, float]:
    """The job's counts, chunks tagged now and reused, and the throughput of those tagged now
    (tweets per second of tagging, model loading left out; absent when all were reused)."""
    tagged_now = [chunks.chunks[index] for index in chunks.computed]
    seconds = sum(compute_seconds(chunk) or 0.0 for chunk in tagged_now)
    tweets_now = sum(chunk_counts(chunk)["tweets"] for chunk in tagged_now)
    metrics: dict[str, float] = {
        **output.counts,
        "chunks": len(chunks.chunks),
        "chunks_computed": len(chunks.computed),
        "chunks_reused": len(chunks.reused),
        "tweets_computed": tweets_now,
        "tagging_s": round(seconds, 3),
    }
    if seconds > 0:
        metrics["tweets_per_second"] = round(tweets_now / seconds, 2)
    return metrics


def job_params(
    tweets: TweetInput, model: RegisteredVersion, tagging: TaggingConfig, chunks: TaggedChunks
) -> dict[str, str]:
    """What the job tagged, with which model and how: the MLflow run's params."""
    return {
        "input": str(tweets.path),
        "input_files": str(len(tweets.files)),
        "input_digest": tweets.digest,
        "registered_model": model.name,
        "alias": model.alias,
        "model_version": model.version,
        "chunk_size": str(tagging.chunk_size),
        "batch_size": str(tagging.batch_size),
        "max_length": str(tagging.max_length),
        "precision": tagging.precision,
        "dtype": chunks.dtype,
    }


def format_tagging(summary: dict[str, Any]) -> str:
    """The tag-tweets flow's summary in a few lines for the terminal."""
    metrics, model, mlflow = summary["metrics"], summary["model"], summary["mlflow"]
    per_type = ", ".join(
        f"{key.removeprefix('spans_')} {int(value)}"
        for key, value in metrics.items()
        if key.startswith("spans_")
    )
    speed = (
        f"; {metrics['tweets_per_second']:.0f} tweets/s in the chunks tagged now"
        if "tweets_per_second" in metrics
        else ""
    )
    return "\n".join(
        [
            f"tagged {int(metrics['tweets'])} tweets with {model['name']} v{model['version']} "
            f"({model['alias']}, {summary['dtype']}): {int(metrics['chunks'])} chunks, "
            f"{int(metrics['chunks_computed'])} tagged now, "
            f"{int(metrics['chunks_reused'])} reused from an earlier run",
            f"spans: {int(metrics['spans'])} ({per_type}){speed}",
            f"output: {summary['output']}",
            f"MLflow run {mlflow['run_id']} in experiment {mlflow['experiment']} "
            f"at {mlflow['tracking_uri']}",
            f"  {mlflow['run_url']}",
        ]
    )
