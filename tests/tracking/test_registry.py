"""The registry lifecycle on a temporary SQLite store, with lightweight model versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nerflow.tracking.registry import (
    HISTORY_TAG,
    RegistryError,
    gate_new_version,
    list_versions,
    promote_version,
    rollback_champion,
)

NAME = "ner-test"


@pytest.fixture
def registry(tmp_path: Path) -> tuple[str, MlflowClient]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(NAME)
    return uri, client


def add_version(client: MlflowClient, val_f1: float | None, test_f1: float = 0.5) -> str:
    tags = {"test_f1": str(test_f1)}
    if val_f1 is not None:
        tags["val_f1"] = str(val_f1)
    return str(client.create_model_version(NAME, source="file:///tmp/model", tags=tags).version)


def aliases(client: MlflowClient) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}


def test_first_version_becomes_champion(registry: tuple[str, MlflowClient]) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    decision = gate_new_version(uri, NAME, v1, margin=0.005, actor="flow-run 1")
    assert decision.action == "first-champion"
    assert aliases(client) == {"champion": v1}
    history = json.loads(client.get_model_version(NAME, v1).tags[HISTORY_TAG])
    assert history[0]["alias"] == "champion" and history[0]["by"] == "flow-run 1"


def test_a_worse_version_becomes_challenger_with_both_scores(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.005, actor="t")
    # better on test, worse on validation: the test split never decides
    v2 = add_version(client, 0.58, test_f1=0.99)
    decision = gate_new_version(uri, NAME, v2, margin=0.005, actor="t")
    assert decision.action == "challenger"
    assert aliases(client) == {"champion": v1, "challenger": v2}
    reason = client.get_model_version(NAME, v2).tags["nerflow.promotion"]
    assert "0.5800" in reason and "0.6000" in reason


def test_a_gain_below_the_margin_does_not_promote(registry: tuple[str, MlflowClient]) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.01, actor="t")
    v2 = add_version(client, 0.605)
    assert gate_new_version(uri, NAME, v2, margin=0.01, actor="t").action == "challenger"


def test_a_better_version_takes_champion_and_the_old_one_is_kept(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.005, actor="t")
    v2 = add_version(client, 0.70)
    decision = gate_new_version(uri, NAME, v2, margin=0.005, actor="flow-run 2")
    assert decision.action == "promoted" and decision.previous_champion == v1
    assert aliases(client) == {"champion": v2, "previous-champion": v1}
    moved = json.loads(client.get_model_version(NAME, v1).tags[HISTORY_TAG])
    assert any(e["action"] == "moved" and e["to_version"] == v2 for e in moved)


def test_rollback_swaps_champion_and_previous(registry: tuple[str, MlflowClient]) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.0, actor="t")
    v2 = add_version(client, 0.70)
    gate_new_version(uri, NAME, v2, margin=0.0, actor="t")
    assert rollback_champion(uri, NAME, actor="cli") == (v2, v1)
    assert aliases(client) == {"champion": v1, "previous-champion": v2}


def test_rollback_without_a_previous_champion_fails_cleanly(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    gate_new_version(uri, NAME, add_version(client, 0.6), margin=0.0, actor="t")
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback_champion(uri, NAME, actor="cli")


def test_promote_refuses_missing_and_unevaluated_versions(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    with pytest.raises(RegistryError, match="has no version '7'"):
        promote_version(uri, NAME, "7", "champion", actor="cli")
    v1 = add_version(client, None)
    with pytest.raises(RegistryError, match=f"version {v1} never finished evaluation"):
        promote_version(uri, NAME, v1, "champion", actor="cli")
    assert aliases(client) == {}


def test_manual_promotion_keeps_the_old_champion_as_previous(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.7)
    gate_new_version(uri, NAME, v1, margin=0.0, actor="t")
    v2 = add_version(client, 0.5)
    assert promote_version(uri, NAME, v2, "champion", actor="cli") == v1
    assert aliases(client) == {"champion": v2, "previous-champion": v1}
    rows = list_versions(uri, NAME)
    assert [(r["version"], r["aliases"]) for r in rows] == [
        (v1, ["previous-champion"]),
        (v2, ["champion"]),
    ]
    assert rows[0]["val_f1"] == "0.7"


def test_listing_an_unknown_model_is_a_clear_error(registry: tuple[str, MlflowClient]) -> None:
    uri, _ = registry
    with pytest.raises(RegistryError, match="no registered model 'nope'"):
        list_versions(uri, "nope")
