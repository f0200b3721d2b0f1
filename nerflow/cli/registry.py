"""`nerflow models | promote | rollback`: the registry from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from nerflow.cli.options import RegisteredModel, TrackingUri, actor, fail
from nerflow.config import TrackingConfig

DEFAULT_MODEL = TrackingConfig().registered_model


def models(
    registered_model: RegisteredModel = DEFAULT_MODEL, tracking_uri: TrackingUri = None
) -> None:
    """List registered versions: aliases, validation/test F1, base model, data, creation time."""
    from nerflow.reporting.tables import render
    from nerflow.tracking.registry import RegistryError, list_versions
    from nerflow.tracking.store import resolve_tracking_uri

    try:
        rows = list_versions(resolve_tracking_uri(tracking_uri)[0], registered_model)
    except RegistryError as exc:
        fail(exc)
    columns = ("version", "aliases", "val_f1", "test_f1", "base_model", "data", "created")
    typer.echo(render(rows, columns))


def promote(
    version: Annotated[str, typer.Argument(help="model version number")],
    alias: Annotated[str, typer.Option(help="alias to move")] = "champion",
    registered_model: RegisteredModel = DEFAULT_MODEL,
    tracking_uri: TrackingUri = None,
) -> None:
    """Point an alias (default champion) at an evaluated version; the old champion is kept."""
    from nerflow.tracking.registry import RegistryError, promote_version
    from nerflow.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)[0]
    try:
        old = promote_version(uri, registered_model, version, alias, actor())
    except RegistryError as exc:
        fail(exc)
    typer.echo(f"{registered_model}@{alias}: version {old or '(none)'} -> {version}")


def rollback(
    registered_model: RegisteredModel = DEFAULT_MODEL, tracking_uri: TrackingUri = None
) -> None:
    """Move champion back to previous-champion."""
    from nerflow.tracking.registry import RegistryError, rollback_champion
    from nerflow.tracking.store import resolve_tracking_uri

    try:
        demoted, restored = rollback_champion(
            resolve_tracking_uri(tracking_uri)[0], registered_model, actor()
        )
    except RegistryError as exc:
        fail(exc)
    typer.echo(f"{registered_model}@champion: version {demoted} -> {restored}")
