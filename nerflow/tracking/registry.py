"""The registry lifecycle: versions, the promotion gate, manual promotion and rollback."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from nerflow.tracking.gate import SplitScores, judge
from nerflow.tracking.locks import registry_lock
from nerflow.tracking.store import client as _client

#: Version tag holding the fingerprint of the trained model folder: one version per model.
MODEL_KEY_TAG = "nerflow.model_key"
DATA_TAG = "nerflow.data_fingerprint"
#: Version tag: the fingerprint of the validation and test splits its scores came from.
EVAL_DATA_TAG = "nerflow.eval_data"
CHAMPION = "champion"
PREVIOUS = "previous-champion"
CHALLENGER = "challenger"
HISTORY_TAG = "nerflow.alias_history"
READABLE_HISTORY_TAG = "alias_history"
DECISION_TAG = "nerflow.promotion"
#: Version tag: the champion's F1 on each new incoming file this version was trained with.
STALENESS_TAG = "staleness"


class RegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why."""


def name_filter(name: str) -> str:
    """MLflow's search filter for the versions of registered model `name`.

    MLflow's filter strings have no escape: a name is quoted with the quote it does not
    hold, and one holding both kinds cannot be searched for (nor found again as registered).
    """
    if "'" not in name:
        return f"name='{name}'"
    if '"' not in name:
        return f'name="{name}"'
    raise RegistryError(
        f"registered model name {name!r} holds both kinds of quote, which MLflow cannot "
        "search for: drop one kind"
    )


def versions_of(client: Any, name: str) -> list[Any]:
    """Every version of registered model `name` (none when it is not registered)."""
    return list(client.search_model_versions(name_filter(name)))


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate did with a new version, and the validation scores it compared."""

    action: Literal["first-champion", "promoted", "challenger", "unchanged"]
    version: str
    champion: str
    previous_champion: str | None
    new_val_f1: float | None
    champion_val_f1: float | None  # on the same validation split as new_val_f1
    reason: str
    checks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summaries and Prefect results."""
        return asdict(self)


def _val_f1(version: Any) -> float | None:
    value = version.tags.get("val_f1")
    return float(value) if value is not None else None


def _alias_version(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _record(client: Any, name: str, version: str, event: dict[str, Any]) -> None:
    """Append an alias change to the version's history tag (what, when, from where, by whom),
    as JSON for programs and as lines for people (`alias_history`)."""
    current = client.get_model_version(name, version).tags.get(HISTORY_TAG)
    history = json.loads(current) if current else []
    history.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), **event})
    client.set_model_version_tag(name, version, HISTORY_TAG, json.dumps(history))
    readable = "; ".join(_history_line(e) for e in history)
    client.set_model_version_tag(name, version, READABLE_HISTORY_TAG, readable[-4900:])


def _history_line(event: dict[str, Any]) -> str:
    when = event["at"].replace("T", " ")[:16]
    if event["action"] == "set":
        origin = f" (from v{event['from_version']})" if event.get("from_version") else ""
        return f"{when} UTC {event['alias']} set here{origin} by {event['by']}"
    return f"{when} UTC {event['alias']} moved to v{event['to_version']} by {event['by']}"


def _move_alias(client: Any, name: str, alias: str, version: str, actor: str) -> str | None:
    """Point `alias` at `version`, recording the change on both versions; return the old one."""
    old = _alias_version(client, name, alias)
    old_version = str(old.version) if old is not None else None
    if old_version == version:
        return old_version
    client.set_registered_model_alias(name, alias, version)
    _record(
        client,
        name,
        version,
        {"alias": alias, "action": "set", "from_version": old_version, "by": actor},
    )
    if old_version is not None:
        _record(
            client,
            name,
            old_version,
            {"alias": alias, "action": "moved", "to_version": version, "by": actor},
        )
    return old_version


def _evaluated_version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"registered model {name!r} has no version {version!r}") from exc
    if _val_f1(found) is None:
        raise RegistryError(
            f"{name} version {version} never finished evaluation (no val_f1 tag): not promoted"
        )
    return found


def gate_new_version(
    uri: str,
    name: str,
    version: str,
    actor: str,
    candidate: SplitScores,
    champion_scores: tuple[str, SplitScores] | None,
    margin: float,
    max_type_drop: float,
) -> PromotionDecision:
    """Promote `version` if it beats the champion on the same validation split (`judge`).

    `champion_scores` is the champion's version and its scores on this run's validation
    split; a champion whose only scores came from other data never decides. The old
    champion keeps `previous-champion`; a version that does not win gets `challenger` and
    a tag with both scores. The test split never decides. A version the gate already
    judged is left as it is, unless the registry has no champion at all; one registered by
    a run that died before its gate is judged now.
    """
    with registry_lock(uri, name):
        client = _client(uri)
        found = _evaluated_version(client, name, version)
        champion = _alias_version(client, name, CHAMPION)
        scored = champion_scores[1] if champion_scores else None
        if champion is not None and (
            DECISION_TAG in found.tags or str(champion.version) == version
        ):
            return PromotionDecision(
                "unchanged", version, str(champion.version), None, candidate.f1,
                scored.f1 if scored else None, "model already registered and judged",
            )  # fmt: skip
        if champion is None:
            _move_alias(client, name, CHAMPION, version, actor)
            reason = f"first evaluated version: champion with val F1 {candidate.f1:.4f}"
            decision = PromotionDecision(
                "first-champion", version, version, None, candidate.f1, None, reason
            )
        elif (
            scored is None or champion_scores is None or champion_scores[0] != str(champion.version)
        ):
            _move_alias(client, name, CHALLENGER, version, actor)
            judged = f"v{champion_scores[0]}" if champion_scores else "no version"
            reason = (
                f"not judged: the champion is v{champion.version} but {judged} was scored on "
                "this validation split (it moved during the run); the next run judges again"
            )
            decision = PromotionDecision(
                "challenger", version, str(champion.version), None, candidate.f1, None, reason
            )
        else:
            verdict = judge(candidate, scored, margin, max_type_drop)
            if verdict.passed:
                old = _move_alias(client, name, CHAMPION, version, actor)
                if old is not None:
                    _move_alias(client, name, PREVIOUS, old, actor)
                action: Literal["promoted", "challenger"] = "promoted"
                reason = (
                    f"val F1 {candidate.f1:.4f} beats champion v{champion.version} "
                    f"({scored.f1:.4f} on the same split) by at least {margin}, and no type "
                    f"drops more than {max_type_drop}"
                )
            else:
                old = None
                _move_alias(client, name, CHALLENGER, version, actor)
                action = "challenger"
                reason = (
                    f"does not replace champion v{champion.version} (val F1 {candidate.f1:.4f} "
                    f"vs {scored.f1:.4f} on the same split): {verdict.failures}"
                )
            holder = version if verdict.passed else str(champion.version)
            decision = PromotionDecision(
                action, version, holder, old, candidate.f1, scored.f1, reason, verdict.checks
            )
        client.set_model_version_tag(name, version, DECISION_TAG, f"{decision.action}: {reason}")
        return decision


def promote_version(uri: str, name: str, version: str, alias: str, actor: str) -> str | None:
    """Manually point `alias` at an evaluated version; champion's old holder becomes previous."""
    with registry_lock(uri, name):
        client = _client(uri)
        _evaluated_version(client, name, version)
        old = _move_alias(client, name, alias, version, actor)
        if alias == CHAMPION and old is not None and old != version:
            _move_alias(client, name, PREVIOUS, old, actor)
        return old


def rollback_champion(uri: str, name: str, actor: str) -> tuple[str, str]:
    """Move champion back to previous-champion (and previous-champion to the demoted one)."""
    with registry_lock(uri, name):
        client = _client(uri)
        previous = _alias_version(client, name, PREVIOUS)
        champion = _alias_version(client, name, CHAMPION)
        if previous is None or champion is None:
            raise RegistryError(f"{name}: nothing to roll back to (no {PREVIOUS!r} alias)")
        _move_alias(client, name, CHAMPION, str(previous.version), actor)
        _move_alias(client, name, PREVIOUS, str(champion.version), actor)
        return str(champion.version), str(previous.version)


def list_versions(uri: str, name: str) -> list[dict[str, Any]]:
    """Every version: aliases, data, scores, the champion's score it was judged against on the
    same split, the gate's decision, staleness, base model and creation time."""
    client = _client(uri)
    versions = versions_of(client, name)
    if not versions:
        raise RegistryError(f"no registered model {name!r} at {uri}")
    # search_model_versions leaves `aliases` empty; the registered model has the mapping.
    by_version: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        tags = v.tags
        rows.append(
            {
                "version": str(v.version),
                "aliases": sorted(by_version.get(str(v.version), [])),
                "train_tweets": tags.get("train_tweets", ""),
                "data": tags.get("data") or tags.get(DATA_TAG, "")[:12],
                "val_f1": tags.get("val_f1", ""),
                "test_f1": tags.get("test_f1", ""),
                "champion_val_f1": tags.get("champion_val_f1_same_data", ""),
                "decision": tags.get(DECISION_TAG, "").partition(":")[0],
                "staleness": tags.get(STALENESS_TAG, ""),
                "base_model": tags.get("base_model", ""),
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "run_id": v.run_id,
            }
        )
    return rows


def find_registered(uri: str, registered_model: str, model_key: str) -> Any | None:
    """The registry version already holding this trained model, with its scores, if any."""
    for version in versions_of(_client(uri), registered_model):
        if version.tags.get(MODEL_KEY_TAG) == model_key and _val_f1(version) is not None:
            return version
    return None


def register_version(uri: str, name: str, model_uri: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version of `name` with its tags, in one call."""
    import mlflow

    from nerflow.tracking.store import active_store

    with active_store(uri):
        version = mlflow.register_model(model_uri, name, tags=tags)
    return str(version.version)
