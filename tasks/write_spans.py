"""Step: the job's JSON lines in input order, published whole at the output path."""

from __future__ import annotations

from nerflow.orchestration.caching import uncached_task
from nerflow.tagging.output import publish_output as write_spans

write_spans_task = uncached_task(write_spans, name="write-spans")
