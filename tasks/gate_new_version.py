"""Step: the promotion gate, champion or challenger by validation F1 (never test)."""

from __future__ import annotations

from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.registry import PromotionDecision
from nerflow.tracking.registry import gate_new_version as gate
from nerflow.tracking.runs import LoggedModel


def gate_new_version(logged: LoggedModel, margin: float, actor: str) -> PromotionDecision:
    """Judge the version `logged` registered against the champion; a reused one is unchanged."""
    return gate(
        logged.tracking_uri, logged.registered_model, logged.version, margin, actor, logged.reused
    )


gate_new_version_task = uncached_task(gate_new_version, name="promotion-gate")
