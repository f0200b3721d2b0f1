"""The MLflow store: which tracking URI, its artifact folder, clients and experiments."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from nerflow.locks import store_creation_lock
from nerflow.tracking import names

TRAINING_KIND = "custom_model_development"
#: MLflow 3's UI opens in its GenAI mode (traces, no registry in the sidebar) unless told
#: otherwise; every link nerflow prints says "model training".
UI_MODE = "workflowType=machine_learning"
#: A view of an experiment's runs table that MLflow's UI loads from the link
#: (`viewStateShareKey`, the UI's own "share view" mechanism: an experiment tag holding the
#: view as JSON). Its runs table shows the scores; MLflow's default shows none.
RUNS_VIEW_KEY = "nerflow-scores"
RUNS_VIEW_TAG = f"{names.SHARED_VIEW_TAG_PREFIX}{RUNS_VIEW_KEY}"
SCORE_COLUMNS = (names.VAL_F1, names.TEST_F1, names.CHAMPION_VAL_F1)
_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
#: MLflow retries an HTTP call 7 times with a doubling back-off (minutes against a dead
#: server); nerflow's calls give up after about 10 s of retries unless the user says otherwise.
_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
#: How long a check waits for a SQLite store another process is writing (as MLflow's calls).
SQLITE_BUSY_SECONDS = 20


class TrackingStoreError(RuntimeError):
    """The tracking store cannot be used; the message names its URI and why."""


def existing_store(tracking_uri: str | None) -> str:
    """The resolved store URI (flag, else $MLFLOW_TRACKING_URI, else ./mlruns) once it answers."""
    uri = resolve_tracking_uri(tracking_uri)[0]
    check_store(uri, must_exist=True)
    return uri


def check_store(uri: str, must_exist: bool = False, timeout: float = 5.0) -> None:
    """Fail in seconds, naming `uri`, when the store cannot be reached or read."""
    # A SQLite database that does not exist yet is fine, unless `must_exist` (commands that read).
    import sqlite3
    import urllib.error
    import urllib.request

    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as reply:
                if reply.status == 200:
                    return
                reason = f"HTTP {reply.status}"
        except (urllib.error.URLError, OSError) as exc:
            reason = str(getattr(exc, "reason", exc))
        raise TrackingStoreError(f"MLflow tracking server {uri} does not answer ({reason})")
    if uri.startswith(("postgresql", "mysql")):
        _check_database(uri, timeout)
        return
    if not uri.startswith("sqlite:///"):
        return  # another kind of store (databricks, ...): MLflow reports itself
    path, _ = _sqlite_path(uri)
    if not path.parent.is_dir():
        raise TrackingStoreError(f"MLflow store {uri}: folder {path.parent} does not exist")
    if not path.is_file():
        if must_exist:
            raise TrackingStoreError(f"no MLflow store at {path} ({uri}): nothing to read")
        return
    try:
        with sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=SQLITE_BUSY_SECONDS
        ) as connection:
            connection.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise TrackingStoreError(f"MLflow store {path} cannot be read: {exc}") from exc


def _check_database(uri: str, timeout: float) -> None:
    """Connect once: MLflow retries a dead database server ten times over 100 s."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(uri)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": int(timeout)})
        try:
            engine.connect().close()
        finally:
            engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:  # ImportError: no driver
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise TrackingStoreError(f"MLflow store {shown} cannot be reached ({reason})") from exc


def _prepare(uri: str) -> None:
    """Set MLflow up for nerflow's calls to `uri`: capped retries, a new store created once."""
    for name, value in _RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # A store error (SQLite locked for over 20 s) reaches the caller once, not also as
    # MLflow's log of it with two tracebacks.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    _created(uri)


def resolve_tracking_uri(configured: str | None) -> tuple[str, str | None]:
    """Tracking URI (default: SQLite under ./mlruns) and a SQLite store's artifact folder."""
    # The artifacts go beside the database: else MLflow puts them under the current directory.
    uri = without_password(configured or os.environ.get("MLFLOW_TRACKING_URI") or "")
    if not uri:
        base = Path.cwd().resolve() / "mlruns"
        base.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{base / 'mlflow.db'}"
    if uri.startswith("sqlite:///"):
        # One store, one spelling: the URI keys locks and "already registered" lookups.
        path, query = _sqlite_path(uri)
        return f"sqlite:///{path}{query}", (path.parent / "artifacts").as_uri()
    return uri.rstrip("/"), None


def without_password(uri: str) -> str:
    """`uri` without its password, which goes where the store's client reads it instead."""
    # ($MLFLOW_TRACKING_USERNAME/PASSWORD, $PGPASSWORD): a URI is shown, logged and stored as a
    # parameter, a password must never be.
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user, host = unquote(parts.username or ""), parts.netloc.rpartition("@")[2]
    scheme = parts.scheme.partition("+")[0]
    if scheme in ("http", "https"):
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
        os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password)
        return urlunsplit(parts._replace(netloc=host))
    if scheme == "postgresql":
        os.environ["PGPASSWORD"] = unquote(parts.password)
        return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))
    shown = urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    raise ValueError(
        f"tracking URI {shown} holds a password: give it to the database's client another "
        "way (its environment variable or option file), not in the URI"
    )


def _sqlite_path(uri: str) -> tuple[Path, str]:
    """The absolute, resolved database path of a SQLite URI, and its `?query` if any."""
    path, mark, query = uri.removeprefix("sqlite:///").partition("?")
    return Path(path).resolve(), mark + query


def client(uri: str) -> Any:
    """A client of both the tracking store and the registry at `uri`."""
    from mlflow import MlflowClient

    _prepare(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@cache
def _created(uri: str) -> None:
    """Create or migrate a SQLite store's tables once per process, one process at a time."""
    # Two processes creating one database's tables at once fail (`duplicate column name`).
    if not uri.startswith("sqlite:///"):
        return
    from mlflow import MlflowClient

    with store_creation_lock(uri):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


@contextmanager
def active_store(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API (runs, models, `models:/` URIs) at `uri` for the block."""
    # MLflow's setters are process-wide and export variables: both are put back afterwards.
    import mlflow

    _prepare(uri)
    saved = {name: os.environ.get(name) for name in _URI_VARIABLES}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # type: ignore[arg-type]
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def experiment_id(uri: str, name: str, artifact_location: str | None) -> str:
    """The experiment's id, created if needed, tagged as model training with the runs view."""
    import json

    scores = [f"metrics.`{metric}`" for metric in SCORE_COLUMNS]
    order = [
        "attributes.`Run Name`", "runDateAndNestInfo", *scores,
        "attributes.`Models`", "attributes.`Dataset`", "duration",
    ]  # fmt: skip
    view = {
        "selectedColumns": ["attributes.`Dataset`", "attributes.`Models`", *scores],
        "columnOrder": order,
        "orderByKey": "attributes.start_time",  # newest runs first
    }
    mlflow_client = client(uri)
    wanted = {names.EXPERIMENT_KIND_TAG: TRAINING_KIND, RUNS_VIEW_TAG: json.dumps(view)}
    found = mlflow_client.get_experiment_by_name(name)
    if found is None:
        return str(
            mlflow_client.create_experiment(name, artifact_location=artifact_location, tags=wanted)
        )
    for key, value in wanted.items():
        if found.tags.get(key) is None:
            mlflow_client.set_experiment_tag(found.experiment_id, key, value)
    return str(found.experiment_id)


#: Where `make ui` serves the MLflow UI for a local (SQLite) store.
LOCAL_UI = "http://127.0.0.1:5000"


def ui_base(uri: str) -> str:
    """The MLflow UI's address: a tracking server's own, else `make ui`'s ($NERFLOW_MLFLOW_UI)."""
    override = os.environ.get("NERFLOW_MLFLOW_UI")
    if override:
        return override.rstrip("/")
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI


def ui_links(uri: str, experiment: str, run_id: str, model: str, version: str) -> dict[str, str]:
    """Direct links: the experiment's training runs, the run, the registered model version."""
    from urllib.parse import quote

    base = ui_base(uri)
    return {
        # The runs table in the model-training mode, with the scores' view.
        "experiment": f"{base}/#/experiments/{experiment}/runs"
        f"?{UI_MODE}&viewStateShareKey={RUNS_VIEW_KEY}",
        "run": run_link(uri, experiment, run_id),
        "version": f"{base}/#/models/{quote(model, safe='')}/versions/{version}?{UI_MODE}",
    }


def run_link(uri: str, experiment: str, run_id: str) -> str:
    """A run's page in MLflow's UI, in its model-training mode."""
    return f"{ui_base(uri)}/#/experiments/{experiment}/runs/{run_id}?{UI_MODE}"
