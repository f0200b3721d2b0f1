"""The end-of-run summary: scores per split and type, and where the model was recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.corpus.labels import ENTITY_TYPES
from nerflow.evaluation import read_report
from nerflow.reporting.tables import SCORE_COLUMNS, render
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.registry import PromotionDecision
from nerflow.tracking.runs import LoggedModel
from nerflow.training.fit import read_training_meta


def build_summary(
    model_dir: Path,
    report_dir: Path,
    logged: LoggedModel,
    decision: PromotionDecision,
    champion: ChampionScores | None = None,
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
    return {
        "scores": scores,
        "model_dir": str(model_dir),
        "device": meta["device"],
        "train_seconds": meta["train_seconds"],
        "mlflow": logged.as_dict(),
        "links": logged.links(),
        "promotion": decision.as_dict(),
        "champion_same_data": _champion(champion),
    }


def _champion(champion: ChampionScores | None) -> dict[str, Any] | None:
    """The champion's scores on this run's splits, and its F1 on each new incoming file."""
    if champion is None:
        return None
    return {
        "version": champion.version,
        "val_f1": champion.val.f1,
        "test_f1": champion.test_f1,
        "staleness": champion.staleness,
    }


def champion_lines(summary: dict[str, Any]) -> list[str]:
    """The fair comparison and the staleness figures, in words."""
    champion = summary.get("champion_same_data")
    if not champion:
        return []
    lines = [
        f"champion v{champion['version']} on this run's splits: val F1 {champion['val_f1']:.3f},"
        f" test F1 {champion['test_f1']:.3f} (the new model: val"
        f" {summary['scores']['validation']['overall']['f1']:.3f},"
        f" test {summary['scores']['test']['overall']['f1']:.3f})"
    ]
    lines += [
        f"staleness: champion F1 {entry['f1']:.3f} on new file {entry['file']}"
        f" ({entry['tweets']} tweets)"
        for entry in champion["staleness"]
    ]
    lines += [f"gate: {check}" for check in summary["promotion"].get("checks", ())]
    return lines


def run_label(summary: dict[str, Any]) -> tuple[str, list[str]]:
    """A flow run's name and tags: retrained or cached, the version, the data version."""
    ml, decision = summary["mlflow"], summary["promotion"]
    what = "cached" if ml["reused"] else "retrained"
    data = ml.get("data_fingerprint", "")[:8]
    name = f"{what}-v{ml['version']}" + ("" if ml["reused"] else f"-{decision['action']}")
    tags = [what, f"model:v{ml['version']}", f"gate:{decision['action']}"]
    return (f"{name}-data-{data}" if data else name), [*tags, *([f"data:{data}"] if data else [])]


def outcome_line(summary: dict[str, Any]) -> str:
    """One line: what the registry got and what the promotion gate decided."""
    ml, decision = summary["mlflow"], summary["promotion"]
    registry = (
        f"model already registered as version {ml['version']}: nothing new logged"
        if ml["reused"]
        else f"registered version {ml['version']} (MLflow run {ml['run_id']})"
    )
    return f"{registry}; promotion {decision['action']}: {decision['reason']}"


def per_type_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per split and entity type (and overall): precision, recall, F1."""
    return [
        {"split": split, "type": name, **scores[name]}
        for split, scores in summary["scores"].items()
        for name in ("overall", *ENTITY_TYPES)
    ]


def format_markdown(summary: dict[str, Any]) -> str:
    """The flow run's report for Prefect's UI: scores, promotion decision, MLflow pointers."""
    ml, decision = summary["mlflow"], summary["promotion"]
    links = summary["links"]
    table = render(per_type_rows(summary), SCORE_COLUMNS, style="markdown")
    state = "already registered; nothing new logged" if ml["reused"] else "newly registered"
    return f"""# NER training run

{table}

**Promotion**: `{decision["action"]}`: {decision["reason"]}. Champion is version
{decision["champion"]}.

{chr(10).join(f"- {line}" for line in champion_lines(summary))}

**MLflow** (`{ml["tracking_uri"]}`): [run `{ml["run_id"]}`]({links["run"]}),
[model `{ml["registered_model"]}` version {ml["version"]}]({links["version"]}) ({state}),
[the experiment's training runs]({links["experiment"]}). Data: {ml.get("data") or "-"}.

Trained on {summary["device"]} in {summary["train_seconds"]:.0f} s; model files
`{summary["model_dir"]}`.
"""


def format_summary(summary: dict[str, Any]) -> str:
    """A terminal table of the summary, with the commands to inspect the run."""
    rows = per_type_rows(summary)
    for split, scores in summary["scores"].items():
        rows.append({"split": split, "type": "macro", "f1": scores["macro_f1"]})
        rows.append({"split": split, "type": "token-wtd", "f1": scores["token_weighted_f1"]})
    order = {split: i for i, split in enumerate(summary["scores"])}
    rows.sort(key=lambda row: order[row["split"]])  # stable: each split's rows stay in order
    ml = summary["mlflow"]
    state = "already registered, nothing new logged" if ml["reused"] else "registered"
    lines = [
        render(rows, SCORE_COLUMNS),
        "(macro: entity F1 averaged over types; token-wtd: token-level weighted F1, the seed's"
        " metric)",
        "",
        f"trained on {summary['device']} in {summary['train_seconds']:.0f} s; model files: "
        f"{summary['model_dir']}",
        f"MLflow run {ml['run_id']} (experiment {ml['experiment_id']}) at {ml['tracking_uri']}",
        f"model {ml['registered_model']} version {ml['version']} ({state})",
        f"promotion: {summary['promotion']['action']}: {summary['promotion']['reason']}"
        f" (champion is now version {summary['promotion']['champion']})",
        *champion_lines(summary),
        *_inspect_lines(summary),
    ]
    return "\n".join(lines)


def _inspect_lines(summary: dict[str, Any]) -> list[str]:
    ml, links = summary["mlflow"], summary["links"]
    lines = []
    if not str(ml["tracking_uri"]).startswith(("http://", "https://")):
        lines.append(
            f"inspect: make ui (mlflow ui --backend-store-uri {ml['tracking_uri']}"
            " --host 127.0.0.1), then open:"
        )
    lines += [f"  run:     {links['run']}", f"  version: {links['version']}",
              f"  runs:    {links['experiment']}"]  # fmt: skip
    return lines
