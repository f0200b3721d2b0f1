"""The end-of-run summary: scores per split and type, and where the model was recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.caching import uncached_task
from tasks.evaluate_model import read_report
from tasks.log_to_mlflow import LoggedModel, PromotionDecision
from tasks.report_progress import publish_run_report
from tasks.score_entities import ENTITY_TYPES
from tasks.train_model import read_training_meta


def summarize_run(
    model_dir: Path, report_dir: Path, logged: LoggedModel, decision: PromotionDecision
) -> dict[str, Any]:
    """Plain data a user needs after a run: scores, model location, how to look at it."""
    report = read_report(report_dir)
    meta = read_training_meta(model_dir)
    scores = {}
    for split in ("validation", "test"):
        s = report["splits"][split]
        scores[split] = {
            "overall": {k: s[k] for k in ("precision", "recall", "f1")},
            "macro_f1": s["macro_f1"],
            "token_weighted_f1": s["token_weighted_f1"],
            **{
                t: {k: s["per_type"][t][k] for k in ("precision", "recall", "f1")}
                for t in ENTITY_TYPES
            },
        }
    summary = {
        "scores": scores,
        "model_dir": str(model_dir),
        "device": meta["device"],
        "train_seconds": meta["train_seconds"],
        "mlflow": logged.as_dict(),
        "promotion": decision.as_dict(),
    }
    registry = (
        f"model already registered as version {logged.version}: nothing new logged"
        if logged.reused
        else f"registered version {logged.version} (MLflow run {logged.run_id})"
    )
    outcome = f"{registry}; promotion {decision.action}: {decision.reason}"
    publish_run_report(format_markdown(summary), per_type_rows(summary), outcome)
    return summary


def per_type_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per split and entity type (and overall): precision, recall, F1."""
    return [
        {"split": split, "type": name, **{k: round(v, 4) for k, v in scores[name].items()}}
        for split, scores in summary["scores"].items()
        for name in ("overall", *ENTITY_TYPES)
    ]


def format_markdown(summary: dict[str, Any]) -> str:
    """The flow run's report for Prefect's UI: scores, promotion decision, MLflow pointers."""
    ml, decision = summary["mlflow"], summary["promotion"]
    rows = "\n".join(
        f"| {r['split']} | {r['type']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} |"
        for r in per_type_rows(summary)
    )
    state = "already registered; nothing new logged" if ml["reused"] else "newly registered"
    return f"""# NER training run

| split | type | precision | recall | F1 |
|---|---|---|---|---|
{rows}

**Promotion**: `{decision["action"]}`: {decision["reason"]}. Champion is version
{decision["champion"]}.

**MLflow**: run `{ml["run_id"]}` (experiment {ml["experiment_id"]}) at `{ml["tracking_uri"]}`;
model `{ml["registered_model"]}` version {ml["version"]} ({state}).

Trained on {summary["device"]} in {summary["train_seconds"]:.0f} s; model files
`{summary["model_dir"]}`.
"""


def format_summary(summary: dict[str, Any]) -> str:
    """A terminal table of the summary, with the commands to inspect the run."""
    lines = [f"{'split':<11} {'type':<8} {'P':>6} {'R':>6} {'F1':>6}"]
    for split, scores in summary["scores"].items():
        for name in ("overall", *ENTITY_TYPES):
            row = scores[name]
            p, r, f = row["precision"], row["recall"], row["f1"]
            lines.append(f"{split:<11} {name:<8} {p:6.3f} {r:6.3f} {f:6.3f}")
        lines.append(
            f"{split:<11} {'macro F1':<8} {'':>6} {'':>6} {scores['macro_f1']:6.3f}   "
            f"(token-level weighted F1, the seed's metric: {scores['token_weighted_f1']:.3f})"
        )
    ml = summary["mlflow"]
    state = "already registered, nothing new logged" if ml["reused"] else "registered"
    lines += [
        "",
        f"trained on {summary['device']} in {summary['train_seconds']:.0f} s; model files: "
        f"{summary['model_dir']}",
        f"MLflow run {ml['run_id']} (experiment {ml['experiment_id']}) at {ml['tracking_uri']}",
        f"model {ml['registered_model']} version {ml['version']} ({state})",
        f"promotion: {summary['promotion']['action']}: {summary['promotion']['reason']}"
        f" (champion is now version {summary['promotion']['champion']})",
        f"inspect: mlflow ui --backend-store-uri {ml['tracking_uri']} --host 127.0.0.1"
        " (or: make ui), then open http://127.0.0.1:5000",
    ]
    return "\n".join(lines)


summarize_run_task = uncached_task(summarize_run, name="summarize-run")
