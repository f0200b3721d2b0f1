"""The tagging flow: resolve the champion → read the tweets → tag chunk by chunk → write → log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.tasks.log_tagging import log_tagging_task
from nerflow.tasks.read_tweets import read_tweets_task
from nerflow.tasks.resolve_model import resolve_model_task
from nerflow.tasks.tag_chunks import tag_chunks_task
from nerflow.tasks.write_spans import write_spans_task
from prefect import flow
from prefect.runtime import flow_run

from nerflow.config import RunConfig, TrackingConfig
from nerflow.shared import attach as attach_shared_store
from nerflow.tagging.config import TaggingConfig


@flow(
    name="tag-tweets",
    description="Tag a file or folder of raw tweets with a registered model, resumable by chunks.",
)
def tag_tweets(
    input_path: Path,
    output: Path,
    tagging: TaggingConfig = TaggingConfig(),  # noqa: B008 - frozen pydantic models are safe defaults
    tracking: TrackingConfig = TrackingConfig(),  # noqa: B008
    work_dir: Path = RunConfig().work_dir,  # noqa: B008
    shared_dir: str | None = None,
) -> dict[str, Any]:
    """Write one `{"text", "spans"}` JSON line per input tweet to `output`; a rerun of the same
    job reuses the chunks an earlier (killed or failed) run finished, here or, through
    `shared_dir`, on another machine."""
    work_dir = work_dir.resolve()
    attach_shared_store(work_dir, shared_dir)
    # One version for the whole run, even if the alias moves while it tags.
    model = resolve_model_task(tracking, tagging.alias)
    input_path, output = input_path.resolve(), output.resolve()
    tweets = read_tweets_task(input_path, output)
    chunks = tag_chunks_task(tweets, model, tagging, work_dir)
    written = write_spans_task(chunks, output)
    return log_tagging_task(
        tweets, model, tagging, chunks, written, tracking.experiment, flow_run.get_id()
    )
