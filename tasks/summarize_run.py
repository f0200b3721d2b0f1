"""Step: the run's summary, published as Prefect artifacts and returned to the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.orchestration.artifacts import label_flow_run, publish_run_report
from nerflow.orchestration.caching import uncached_task
from nerflow.reporting.summary import build_summary, format_markdown, outcome_line, run_label
from nerflow.reporting.tables import rounded, score_rows
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.registry import PromotionDecision
from nerflow.tracking.runs import LoggedModel


def summarize_run(
    model_dir: Path,
    report_dir: Path,
    logged: LoggedModel,
    decision: PromotionDecision,
    champion: ChampionScores | None = None,
) -> dict[str, Any]:
    """Scores, model location and registry outcome; also the flow run's report artifacts."""
    summary = build_summary(model_dir, report_dir, logged, decision, champion)
    rows = [{k: rounded(v) for k, v in row.items()} for row in score_rows(summary.scores)]
    publish_run_report(format_markdown(summary), rows, outcome_line(summary))
    label_flow_run(*run_label(summary))
    return summary.model_dump(mode="json")


summarize_run_task = uncached_task(summarize_run, name="summarize-run")
