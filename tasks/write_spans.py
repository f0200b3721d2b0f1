"""Step: the job's JSON lines in input order, published whole at the output path."""

from __future__ import annotations

from pathlib import Path

from nerflow.orchestration.caching import uncached_task
from nerflow.tagging.chunks import TaggedChunks
from nerflow.tagging.output import TaggedOutput, publish_output


def write_spans(chunks: TaggedChunks, output: Path) -> TaggedOutput:
    """One `{"text", "spans"}` line per input tweet at `output` (written aside, renamed)."""
    return publish_output(chunks, output)


write_spans_task = uncached_task(write_spans, name="write-spans")
