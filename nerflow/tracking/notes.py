"""Words in MLflow: a version's description, and the gate's decision on its run and version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nerflow.reporting.descriptions import (
    NOTE_TAG,
    REGISTERED_MODEL,
    version_description,
    with_decision,
)
from nerflow.tracking.registry import DECISION_TAG, PromotionDecision
from nerflow.tracking.store import client as _client

if TYPE_CHECKING:
    from nerflow.tracking.runs import LoggedModel


def record_decision(logged: LoggedModel, decision: PromotionDecision) -> None:
    """The gate's decision on the run that logged the version (a tag the runs table shows,
    and in the run's and the version's descriptions)."""
    client = _client(logged.tracking_uri)
    client.set_tag(logged.run_id, DECISION_TAG, f"{decision.action}: {decision.reason}")
    note = client.get_run(logged.run_id).data.tags.get(NOTE_TAG, "")
    client.set_tag(logged.run_id, NOTE_TAG, with_decision(note, decision))
    version = client.get_model_version(logged.registered_model, logged.version)
    client.update_model_version(
        logged.registered_model,
        logged.version,
        description=with_decision(version.description or "", decision),
    )


def describe_version(uri: str, name: str, version: str, note: str, card: str) -> None:
    """The version's description (its run's note and its model card), and the registered
    model's when it has none yet."""
    client = _client(uri)
    client.update_model_version(name, version, description=version_description(note, card))
    if not client.get_registered_model(name).description:
        client.update_registered_model(name, description=REGISTERED_MODEL)
