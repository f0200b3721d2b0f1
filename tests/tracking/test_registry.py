"""The registry lifecycle on a temporary SQLite store, with lightweight model versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from nerflow.tracking.gate import SplitScores
from nerflow.tracking.names import HISTORY_TAG
from nerflow.tracking.registry import (
    PromotionDecision,
    RegistryError,
    list_versions,
    promote_version,
    rollback_champion,
)
from nerflow.tracking.registry import gate_new_version as gate

NAME = "ner-test"
TYPES = ("PER", "ORG", "LOC")


def gate_new_version(
    uri: str,
    name: str,
    version: str,
    margin: float,
    actor: str,
    champion_same_data: float | None = None,
    per_type: dict[str, float] | None = None,
    champion_per_type: dict[str, float] | None = None,
    max_type_drop: float = 0.02,
) -> PromotionDecision:
    """The gate with the candidate's logged val F1 and the champion's score on the same
    split (by default the F1 its version logged: the same data)."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    f1 = float(client.get_model_version(name, version).tags["val_f1"])
    candidate = SplitScores(f1, per_type or dict.fromkeys(TYPES, f1))
    scored = None
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        champion = None
    if champion is not None:
        same = (
            champion_same_data if champion_same_data is not None else float(champion.tags["val_f1"])
        )
        scored = (
            str(champion.version),
            SplitScores(same, champion_per_type or dict.fromkeys(TYPES, same)),
        )
    return gate(uri, name, version, actor, candidate, scored, margin, max_type_drop)


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


def test_a_margin_of_zero_promotes_an_equal_score_as_its_check_says(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.0, actor="t")
    v2 = add_version(client, 0.60)
    decision = gate_new_version(uri, NAME, v2, margin=0.0, actor="t")
    assert "+0.0000 (needs >= +0.0000)" in decision.checks[0]
    assert decision.action == "promoted", decision.reason
    # ...and a gain of exactly the margin passes it, as the check says.
    v3 = add_version(client, 0.61)
    assert gate_new_version(uri, NAME, v3, margin=0.01, actor="t").action == "promoted"


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


def test_the_champion_is_judged_by_its_score_on_the_same_split_not_its_logged_one(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.80)  # logged on the validation split of its own time
    gate_new_version(uri, NAME, v1, margin=0.005, actor="t")
    v2 = add_version(client, 0.70)
    # On the new validation split the champion scores 0.65: the candidate wins there.
    decision = gate_new_version(uri, NAME, v2, margin=0.005, actor="t", champion_same_data=0.65)
    assert decision.action == "promoted"
    assert decision.champion_val_f1 == 0.65 and decision.new_val_f1 == 0.70
    assert "0.6500 on the same split" in decision.reason and "0.8000" not in decision.reason


def test_a_candidate_that_wins_overall_but_loses_a_type_beyond_the_tolerance_is_blocked(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.005, actor="t")
    champion_types = {"PER": 0.70, "ORG": 0.40, "LOC": 0.65}
    v2 = add_version(client, 0.66)  # +0.06 overall...
    blocked = gate_new_version(
        uri, NAME, v2, margin=0.005, actor="t",
        per_type={"PER": 0.80, "ORG": 0.37, "LOC": 0.70},  # ...but ORG drops 0.03
        champion_per_type=champion_types,
    )  # fmt: skip
    assert blocked.action == "challenger"
    assert aliases(client) == {"champion": v1, "challenger": v2}
    assert "ORG_f1_drop" in blocked.reason and "0.02" in blocked.reason
    assert any(check.startswith("ORG F1 0.3700 vs 0.4000: -0.0300") for check in blocked.checks)
    # The same candidate within the tolerance (ORG -0.01) is promoted.
    v3 = add_version(client, 0.66)
    passed = gate_new_version(
        uri, NAME, v3, margin=0.005, actor="t",
        per_type={"PER": 0.80, "ORG": 0.39, "LOC": 0.70}, champion_per_type=champion_types,
    )  # fmt: skip
    assert passed.action == "promoted" and aliases(client)["champion"] == v3


def test_a_champion_that_moved_after_it_was_scored_does_not_decide(
    registry: tuple[str, MlflowClient],
) -> None:
    uri, client = registry
    v1 = add_version(client, 0.60)
    gate_new_version(uri, NAME, v1, margin=0.005, actor="t")
    v2 = add_version(client, 0.90)
    candidate = SplitScores(0.90, dict.fromkeys(TYPES, 0.9))
    stale = ("7", SplitScores(0.1, dict.fromkeys(TYPES, 0.1)))  # scored another version
    decision = gate(uri, NAME, v2, "t", candidate, stale, 0.005, 0.02)
    assert decision.action == "challenger" and "not judged" in decision.reason
    assert aliases(client)["champion"] == v1
