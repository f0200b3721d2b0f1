"""Step: tag the tweets chunk by chunk, reusing the chunks an earlier run of the job finished."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode
from nerflow.tagging.chunks import TaggedChunks, load_tagger, tag_job, tagging_dtype
from nerflow.tagging.config import TaggingConfig
from nerflow.tagging.tweets import TweetInput, chunk_bounds, read_input
from nerflow.tracking.tagging import RegisteredVersion

CODE = StepCode(
    ("nerflow.tasks.tag_chunks", "nerflow.tagging", "nerflow.inference", "nerflow.tracking",
     "nerflow.corpus.labels", "nerflow.config")
)  # fmt: skip


def tag_chunks(
    tweets: TweetInput, model: RegisteredVersion, tagging: TaggingConfig, work_dir: Path
) -> TaggedChunks:
    """Each chunk's spans in `work_dir/tagged/<key>-<chunk>`, keyed on the tweets' content,
    the chunk size, the model version, the dtype, the length limit and the code."""
    current, texts = read_input(tweets.path)
    if current.digest != tweets.digest:
        raise ValueError(f"{tweets.path} changed while the run read it: run it again")
    dtype = tagging_dtype(tagging.precision)
    key = content_key(
        tweets.digest, tagging.chunk_size, model, dtype, tagging.max_length,
        CODE.version(),
    )  # fmt: skip
    return tag_job(
        texts,
        chunk_bounds(len(texts), tagging.chunk_size),
        work_dir / "tagged",
        key,
        lambda: load_tagger(model, tagging),
        dtype,
    )


tag_chunks_task = cached_task(tag_chunks, CODE, name="tag-chunks")
