"""Step: the tagging job as one MLflow run (counts, chunks reused, throughput); its summary."""

from __future__ import annotations

import logging
from typing import Any

from nerflow.orchestration.artifacts import label_flow_run
from nerflow.orchestration.caching import uncached_task
from nerflow.tagging.chunks import TaggedChunks
from nerflow.tagging.config import TaggingConfig
from nerflow.tagging.output import TaggedOutput, format_tagging, job_metrics, job_params
from nerflow.tagging.tweets import TweetInput
from nerflow.tracking.names import FLOW_RUN_TAG, JOB_TAG
from nerflow.tracking.tagging import RegisteredVersion, log_tagging_run, tagging_experiment

logger = logging.getLogger(__name__)


def log_tagging(
    tweets: TweetInput,
    model: RegisteredVersion,
    tagging: TaggingConfig,
    chunks: TaggedChunks,
    output: TaggedOutput,
    experiment: str,
    flow_run_id: str | None = None,
) -> dict[str, Any]:
    """Log the job in `<experiment>-tagging`; return what it did, where, and with what."""
    metrics = job_metrics(chunks, output)
    tags = {JOB_TAG: chunks.key, **({FLOW_RUN_TAG: flow_run_id} if flow_run_id else {})}
    name = f"{tweets.path.name}-v{model.version}"
    params = job_params(tweets, model, tagging, chunks)
    logged = log_tagging_run(model, tagging_experiment(experiment), name, params, metrics, tags)
    summary = {
        "output": str(output.path),
        "model": {"name": model.name, "alias": model.alias, "version": model.version},
        "dtype": chunks.dtype,
        "job": chunks.key,
        "metrics": metrics,
        "mlflow": logged,
    }
    logger.info(format_tagging(summary))
    resumed = ["reused-chunks"] if chunks.reused else []
    label_flow_run(
        f"tagged-v{model.version}-{output.counts['tweets']}-tweets",
        ["tagging", f"model:v{model.version}", *resumed],
    )
    return summary


log_tagging_task = uncached_task(log_tagging, name="log-tagging")
