"""Step: the promotion gate, new version against the champion on the same validation split."""

from __future__ import annotations

from pathlib import Path

from nerflow.config import TrackingConfig
from nerflow.evaluation import read_report
from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.champion import ChampionScores
from nerflow.tracking.gate import SplitScores
from nerflow.tracking.registry import PromotionDecision, record_decision
from nerflow.tracking.registry import gate_new_version as gate
from nerflow.tracking.runs import LoggedModel


def gate_new_version(
    logged: LoggedModel,
    report_dir: Path,
    champion: ChampionScores | None,
    tracking: TrackingConfig,
    actor: str,
) -> PromotionDecision:
    """Judge the version `logged` registered or found unjudged; a judged one is unchanged."""
    candidate = SplitScores.from_report(read_report(report_dir))
    scored = (champion.version, champion.val) if champion is not None else None
    decision = gate(
        logged.tracking_uri, logged.registered_model, logged.version, actor, candidate, scored,
        tracking.promotion_margin, tracking.max_type_f1_drop,
    )  # fmt: skip
    if decision.action != "unchanged":
        record_decision(logged, decision)
    return decision


gate_new_version_task = uncached_task(gate_new_version, name="promotion-gate")
