"""The end-of-run summary: scores per split and type, and where the model was recorded."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from nerflow.evaluation import Scores, read_report
from nerflow.reporting.tables import SCORE_COLUMNS, markdown_scores, render, score_rows
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.registry import PromotionDecision
from nerflow.tracking.runs import LoggedModel
from nerflow.training.meta import read_training_meta


class RunSummary(BaseModel):
    """What a user needs after a run: scores, model location, registry outcome, links."""

    scores: dict[str, Scores]
    model_dir: str
    device: str
    train_seconds: float
    mlflow: LoggedModel
    links: dict[str, str]
    promotion: PromotionDecision
    champion_same_data: ChampionScores | None


def build_summary(
    model_dir: Path,
    report_dir: Path,
    logged: LoggedModel,
    decision: PromotionDecision,
    champion: ChampionScores | None,
) -> RunSummary:
    """The summary of a run from its model folder, its report and what MLflow got."""
    meta = read_training_meta(model_dir)
    scores: dict[str, Scores] = dict(read_report(report_dir).splits)  # dumped without report_text
    return RunSummary(
        scores=scores,
        model_dir=str(model_dir),
        device=meta.device,
        train_seconds=meta.train_seconds,
        mlflow=logged,
        links=logged.links(),
        promotion=decision,
        champion_same_data=champion,
    )


def champion_lines(summary: RunSummary) -> list[str]:
    """The fair comparison and the staleness figures, in words."""
    champion = summary.champion_same_data
    if champion is None:
        return []
    lines = [
        f"champion v{champion.version} on this run's splits: val F1 {champion.val.f1:.3f},"
        f" test F1 {champion.test_f1:.3f} (the new model: val"
        f" {summary.scores['validation'].f1:.3f}, test {summary.scores['test'].f1:.3f})"
    ]
    lines += [
        f"staleness: champion F1 {entry['f1']:.3f} on new file {entry['file']}"
        f" ({entry['tweets']} tweets)"
        for entry in champion.staleness
    ]
    lines += [f"gate: {check}" for check in summary.promotion.checks]
    return lines


def run_label(summary: RunSummary) -> tuple[str, list[str]]:
    """A flow run's name and tags: retrained or cached, the version, the data version."""
    ml, action = summary.mlflow, summary.promotion.action
    what = "cached" if ml.reused else "retrained"
    data = ml.data_fingerprint[:8]
    name = f"{what}-v{ml.version}" + ("" if ml.reused else f"-{action}")
    tags = [what, f"model:v{ml.version}", f"gate:{action}"]
    return (f"{name}-data-{data}" if data else name), [*tags, *([f"data:{data}"] if data else [])]


def outcome_line(summary: RunSummary) -> str:
    """One line: what the registry got and what the promotion gate decided."""
    ml, decision = summary.mlflow, summary.promotion
    registry = (
        f"model already registered as version {ml.version}: nothing new logged"
        if ml.reused
        else f"registered version {ml.version} (MLflow run {ml.run_id})"
    )
    return f"{registry}; promotion {decision.action}: {decision.reason}"


def format_markdown(summary: RunSummary) -> str:
    """The flow run's report for Prefect's UI: scores, promotion decision, MLflow pointers."""
    ml, decision, links = summary.mlflow, summary.promotion, summary.links
    table = markdown_scores(summary.scores)
    state = "already registered; nothing new logged" if ml.reused else "newly registered"
    return f"""# NER training run

{table}

**Promotion**: `{decision.action}`: {decision.reason}. Champion is version
{decision.champion}.

{chr(10).join(f"- {line}" for line in champion_lines(summary))}

**MLflow** (`{ml.tracking_uri}`): [run `{ml.run_id}`]({links["run"]}),
[model `{ml.registered_model}` version {ml.version}]({links["version"]}) ({state}),
[the experiment's training runs]({links["experiment"]}). Data: {ml.data or "-"}.

Trained on {summary.device} in {summary.train_seconds:.0f} s; model files
`{summary.model_dir}`.
"""


def format_summary(summary: RunSummary) -> str:
    """A terminal table of the summary, with the commands to inspect the run."""
    rows: list[dict[str, str | float | int]] = []
    for split, scores in summary.scores.items():
        rows += score_rows({split: scores})
        rows.append({"split": split, "type": "macro", "f1": scores.macro_f1})
        rows.append({"split": split, "type": "token-wtd", "f1": scores.token_weighted_f1})
    ml, decision = summary.mlflow, summary.promotion
    state = "already registered, nothing new logged" if ml.reused else "registered"
    lines = [
        render(rows, SCORE_COLUMNS),
        "(names: overall without the entities that are a bare `@`; macro: entity F1 averaged"
        " over types; token-wtd: token-level weighted F1, the seed's metric)",
        "",
        f"trained on {summary.device} in {summary.train_seconds:.0f} s; model files: "
        f"{summary.model_dir}",
        f"MLflow run {ml.run_id} (experiment {ml.experiment_id}) at {ml.tracking_uri}",
        f"model {ml.registered_model} version {ml.version} ({state})",
        f"promotion: {decision.action}: {decision.reason}"
        f" (champion is now version {decision.champion})",
        *champion_lines(summary),
    ]
    if not ml.tracking_uri.startswith(("http://", "https://")):
        lines.append(
            f"inspect: make ui (mlflow ui --backend-store-uri {ml.tracking_uri} --host 127.0.0.1),"
            " then open:"
        )
    links = summary.links
    lines += [f"  run:     {links['run']}", f"  version: {links['version']}",
              f"  runs:    {links['experiment']}"]  # fmt: skip
    return "\n".join(lines)
