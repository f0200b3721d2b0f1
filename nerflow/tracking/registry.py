"""The registry lifecycle: versions, the promotion gate, manual promotion, rollback, words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from nerflow.locks import registry_lock
from nerflow.tracking import names
from nerflow.tracking.gate import SplitScores, judge
from nerflow.tracking.store import client as _client

if TYPE_CHECKING:
    from nerflow.tracking.runs import LoggedModel


class RegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why."""


def name_filter(name: str) -> str:
    """MLflow's search filter for the versions of registered model `name`."""
    # MLflow's filter strings have no escape: a name is quoted with the quote it does not hold.
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


def _val_f1(version: Any) -> float | None:
    value = version.tags.get(names.VAL_F1)
    return float(value) if value is not None else None


def alias_version(client: Any, name: str, alias: str) -> Any | None:
    """The version `alias` names, if any."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _record(client: Any, name: str, version: str, event: dict[str, Any]) -> None:
    """Append an alias change to the version's history tags (JSON, and lines for people)."""
    current = client.get_model_version(name, version).tags.get(names.HISTORY_TAG)
    history = json.loads(current) if current else []
    history.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), **event})
    client.set_model_version_tag(name, version, names.HISTORY_TAG, json.dumps(history))
    readable = "; ".join(_history_line(e) for e in history)
    client.set_model_version_tag(name, version, names.READABLE_HISTORY_TAG, readable[-4900:])


def _history_line(event: dict[str, Any]) -> str:
    when = event["at"].replace("T", " ")[:16]
    if event["action"] == "set":
        origin = f" (from v{event['from_version']})" if event.get("from_version") else ""
        return f"{when} UTC {event['alias']} set here{origin} by {event['by']}"
    return f"{when} UTC {event['alias']} moved to v{event['to_version']} by {event['by']}"


def _move_alias(client: Any, name: str, alias: str, version: str, actor: str) -> str | None:
    """Point `alias` at `version`, recording the change on both versions; return the old one."""
    old = alias_version(client, name, alias)
    old_version = str(old.version) if old is not None else None
    if old_version == version:
        return old_version
    client.set_registered_model_alias(name, alias, version)
    set_here = {"alias": alias, "action": "set", "from_version": old_version, "by": actor}
    _record(client, name, version, set_here)
    if old_version is not None:
        moved = {"alias": alias, "action": "moved", "to_version": version, "by": actor}
        _record(client, name, old_version, moved)
    return old_version


def _evaluated_version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"registered model {name!r} has no version {version!r}") from exc
    if _val_f1(found) is None:
        raise RegistryError(
            f"{name} version {version} never finished evaluation (no {names.VAL_F1} tag): "
            "not promoted"
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
    """Promote `version` if it beats the champion by the rule (`judge`), else challenger."""
    # `champion_scores`: the champion's version and scores on this run's validation split.
    with registry_lock(uri, name):
        client = _client(uri)
        found = _evaluated_version(client, name, version)
        champion = alias_version(client, name, names.CHAMPION)
        holder = str(champion.version) if champion is not None else None
        if holder is not None and (names.DECISION_TAG in found.tags or holder == version):
            scored = champion_scores[1].f1 if champion_scores else None
            return PromotionDecision(
                "unchanged", version, holder, None, candidate.f1, scored,
                "model already registered and judged",
            )  # fmt: skip
        decision = _decide(version, holder, candidate, champion_scores, margin, max_type_drop)
        if decision.champion == version:
            _crown(client, name, version, actor)
        else:
            _move_alias(client, name, names.CHALLENGER, version, actor)
        tag = f"{decision.action}: {decision.reason}"
        client.set_model_version_tag(name, version, names.DECISION_TAG, tag)
        return decision


def _decide(
    version: str,
    holder: str | None,
    candidate: SplitScores,
    champion_scores: tuple[str, SplitScores] | None,
    margin: float,
    max_type_drop: float,
) -> PromotionDecision:
    """The gate's decision on `version` against the champion's holder (None: no champion)."""
    if holder is None:
        reason = f"first evaluated version: champion with val F1 {candidate.f1:.4f}"
        return PromotionDecision(
            "first-champion", version, version, None, candidate.f1, None, reason
        )
    if champion_scores is None or champion_scores[0] != holder:
        judged = f"v{champion_scores[0]}" if champion_scores else "no version"
        reason = (
            f"not judged: the champion is v{holder} but {judged} was scored on "
            "this validation split (it moved during the run); the next run judges again"
        )
        return PromotionDecision("challenger", version, holder, None, candidate.f1, None, reason)
    scored = champion_scores[1]
    verdict = judge(candidate, scored, margin, max_type_drop)
    if verdict.passed:
        reason = (
            f"val F1 {candidate.f1:.4f} beats champion v{holder} ({scored.f1:.4f} on the same "
            f"split) by at least {margin}, and no type drops more than {max_type_drop}"
        )
        return PromotionDecision(
            "promoted", version, version, holder, candidate.f1, scored.f1, reason, verdict.checks
        )
    reason = (
        f"does not replace champion v{holder} (val F1 {candidate.f1:.4f} vs {scored.f1:.4f} "
        f"on the same split): {verdict.failures}"
    )
    return PromotionDecision(
        "challenger", version, holder, None, candidate.f1, scored.f1, reason, verdict.checks
    )


def _crown(client: Any, name: str, version: str, actor: str) -> str | None:
    """Make `version` champion; the old champion, returned, becomes previous-champion."""
    old = _move_alias(client, name, names.CHAMPION, version, actor)
    if old is not None and old != version:
        _move_alias(client, name, names.PREVIOUS, old, actor)
    return old


def promote_version(uri: str, name: str, version: str, alias: str, actor: str) -> str | None:
    """Manually point `alias` at an evaluated version; champion's old holder becomes previous."""
    with registry_lock(uri, name):
        client = _client(uri)
        _evaluated_version(client, name, version)
        if alias == names.CHAMPION:
            return _crown(client, name, version, actor)
        return _move_alias(client, name, alias, version, actor)


def rollback_champion(uri: str, name: str, actor: str) -> tuple[str, str]:
    """Move champion back to previous-champion (and previous-champion to the demoted one)."""
    with registry_lock(uri, name):
        client = _client(uri)
        previous = alias_version(client, name, names.PREVIOUS)
        champion = alias_version(client, name, names.CHAMPION)
        if previous is None or champion is None:
            raise RegistryError(f"{name}: nothing to roll back to (no {names.PREVIOUS!r} alias)")
        _move_alias(client, name, names.CHAMPION, str(previous.version), actor)
        _move_alias(client, name, names.PREVIOUS, str(champion.version), actor)
        return str(champion.version), str(previous.version)


def list_versions(uri: str, name: str) -> list[dict[str, Any]]:
    """Every version: aliases, data, scores, the champion's, the decision, staleness, time."""
    client = _client(uri)
    versions = versions_of(client, name)
    if not versions:
        raise RegistryError(f"no registered model {name!r} at {uri}")
    # search_model_versions leaves `aliases` empty; the registered model has the mapping.
    by_version: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    shown = (names.TRAIN_TWEETS_TAG, names.VAL_F1, names.TEST_F1, names.STALENESS_TAG)
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        tags = v.tags
        created = datetime.fromtimestamp(v.creation_timestamp / 1000, UTC)
        rows.append(
            {
                "version": str(v.version),
                "aliases": sorted(by_version.get(str(v.version), [])),
                **{tag: tags.get(tag, "") for tag in shown},
                "data": tags.get(names.VERSION_DATA_TAG) or tags.get(names.DATA_TAG, "")[:12],
                "champion_val_f1": tags.get(names.CHAMPION_VAL_F1, ""),
                "decision": tags.get(names.DECISION_TAG, "").partition(":")[0],
                "base_model": tags.get(names.VERSION_BASE_MODEL_TAG, ""),
                "created": created.strftime("%Y-%m-%d %H:%M:%S"),
                "run_id": v.run_id,
            }
        )
    return rows


def find_registered(uri: str, registered_model: str, model_key: str) -> Any | None:
    """The registry version already holding this trained model, with its scores, if any."""
    for version in versions_of(_client(uri), registered_model):
        if version.tags.get(names.MODEL_KEY_TAG) == model_key and _val_f1(version) is not None:
            return version
    return None


def register_version(uri: str, name: str, model_uri: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version of `name` with its tags, in one call."""
    import mlflow

    from nerflow.tracking.store import active_store

    with active_store(uri):
        version = mlflow.register_model(model_uri, name, tags=tags)
    return str(version.version)


def record_decision(logged: LoggedModel, decision: PromotionDecision) -> None:
    """The gate's decision as a run tag and in the run's and the version's descriptions."""
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

    # Here, not at the top: the scoring step imports this module, its key covers no reporting.
    from nerflow.reporting.descriptions import with_decision

    client = _client(logged.tracking_uri)
    client.set_tag(logged.run_id, names.DECISION_TAG, f"{decision.action}: {decision.reason}")
    note = client.get_run(logged.run_id).data.tags.get(MLFLOW_RUN_NOTE, "")
    client.set_tag(logged.run_id, MLFLOW_RUN_NOTE, with_decision(note, decision))
    version = client.get_model_version(logged.registered_model, logged.version)
    description = with_decision(version.description or "", decision)
    client.update_model_version(logged.registered_model, logged.version, description=description)


def describe_version(uri: str, name: str, version: str, note: str, card: str) -> None:
    """The version's description (its run's note, its model card); the model's if it has none."""
    from nerflow.reporting.descriptions import REGISTERED_MODEL

    client = _client(uri)
    client.update_model_version(name, version, description=f"{note}\n\n---\n\n{card}")
    if not client.get_registered_model(name).description:
        client.update_registered_model(name, description=REGISTERED_MODEL)
