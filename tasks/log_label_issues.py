"""Step: record a k-fold label-issue ranking as an MLflow run, its files as artifacts."""

from __future__ import annotations

from pathlib import Path

from nerflow.config import RunConfig
from nerflow.label_issues import ranking_metrics
from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.names import LABEL_ISSUES_KIND
from nerflow.tracking.tagging import log_label_issues


def log_label_issues_run(run: RunConfig, folds: int, issues_dir: Path) -> dict[str, str]:
    """The MLflow run holding the ranking (one artifact per source); its id and links."""
    params = {
        "folds": str(folds),
        "seed": str(run.training.seed),
        "base_model": run.model.base_model,
        "data.mention_convention": run.data.mention_convention,
    }
    metrics = ranking_metrics(issues_dir)
    return log_label_issues(
        run.tracking.resolved_uri(), run.tracking.experiment, LABEL_ISSUES_KIND, params,
        metrics, issues_dir,
    )  # fmt: skip


log_label_issues_task = uncached_task(log_label_issues_run, name="log-label-issues")
