"""`nerflow serve-model`: a registered model over HTTP, with MLflow's scoring server."""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from nerflow.cli.inference import DEFAULT_MODEL
from nerflow.cli.options import TrackingUri, existing_store, fail


def serve_model(
    model: Annotated[str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION")] = (
        DEFAULT_MODEL
    ),
    tracking_uri: TrackingUri = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 5001,
) -> None:
    """Serve a registered model: POST /invocations {"inputs": [texts]} answers spans."""
    # `mlflow models serve --env-manager local` with this environment's packages (its `bin/`
    # first on PATH, which MLflow needs to start uvicorn) against the tracking store.
    from nerflow.tracking.registry import RegistryError

    _check_port(host, port)
    uri = existing_store(tracking_uri)
    try:
        _check_model(uri, model)
    except RegistryError as exc:
        fail(exc)
    tools = Path(sys.executable).parent
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "PATH": os.pathsep.join([str(tools), os.environ.get("PATH", "")]),
    }
    command = [str(tools / "mlflow"), "models", "serve", "-m", model, "--env-manager", "local",
               "--host", host, "--port", str(port)]  # fmt: skip
    typer.echo(f"serving {model} from {uri} on http://{host}:{port}/invocations", err=True)
    os.execve(command[0], command, env)


def _check_port(host: str, port: int) -> None:
    """One clear error, before the server starts, for an address it cannot listen on."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # Bound as uvicorn binds (SO_REUSEADDR): a port left in TIME_WAIT is not "in use".
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is in use: stop what listens there or pick --port")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _check_model(uri: str, model: str) -> None:
    """One clear error, before the server starts, for a models:/ URI the registry lacks."""
    from mlflow.exceptions import MlflowException

    from nerflow.tracking.registry import RegistryError
    from nerflow.tracking.store import client

    if not model.startswith("models:/"):
        return
    name, alias_sep, rest = model.removeprefix("models:/").partition("@")
    try:
        if alias_sep:
            client(uri).get_model_version_by_alias(name, rest)
        else:
            name, _, version = name.partition("/")
            client(uri).get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"model {model!r} not found at {uri}") from exc
