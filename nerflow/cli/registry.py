"""`nerflow models | promote | rollback`: the registry from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from nerflow.cli.options import RegisteredModel, TrackingUri, actor, existing_store, fail
from nerflow.config import TrackingConfig
from nerflow.tracking.names import CHAMPION

DEFAULT_MODEL = TrackingConfig().registered_model


def _registry_errors() -> tuple[type[Exception], ...]:
    from mlflow.exceptions import MlflowException

    from nerflow.tracking.registry import RegistryError

    return RegistryError, MlflowException


def models(
    registered_model: RegisteredModel = DEFAULT_MODEL, tracking_uri: TrackingUri = None
) -> None:
    """List registered versions: aliases, data, validation/test F1, the champion's validation
    F1 on the same split when each was judged, the gate's decision, staleness."""
    from nerflow.reporting.tables import render
    from nerflow.tracking.registry import list_versions

    uri = existing_store(tracking_uri)
    try:
        rows = list_versions(uri, registered_model)
    except _registry_errors() as exc:
        fail(exc)
    columns = (
        "version", "aliases", "train_tweets", "data", "val_f1", "test_f1", "champion_val_f1",
        "decision", "staleness", "created",
    )  # fmt: skip
    typer.echo(render(rows, columns))


def promote(
    version: Annotated[str, typer.Argument(help="model version number")],
    alias: Annotated[str, typer.Option(help="alias to move")] = CHAMPION,
    registered_model: RegisteredModel = DEFAULT_MODEL,
    tracking_uri: TrackingUri = None,
) -> None:
    """Point an alias (default champion) at an evaluated version; the old champion is kept."""
    from nerflow.tracking.registry import promote_version

    uri = existing_store(tracking_uri)
    try:
        old = promote_version(uri, registered_model, version, alias, actor())
    except _registry_errors() as exc:
        fail(exc)
    typer.echo(f"{registered_model}@{alias}: version {old or '(none)'} -> {version}")


def rollback(
    registered_model: RegisteredModel = DEFAULT_MODEL, tracking_uri: TrackingUri = None
) -> None:
    """Move champion back to previous-champion."""
    from nerflow.tracking.registry import rollback_champion

    uri = existing_store(tracking_uri)
    try:
        demoted, restored = rollback_champion(uri, registered_model, actor())
    except _registry_errors() as exc:
        fail(exc)
    typer.echo(f"{registered_model}@{CHAMPION}: version {demoted} -> {restored}")
