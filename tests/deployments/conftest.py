"""Real servers for the deployment tests, each on a free loopback port: a `prefect server` (with
its scheduler) and an `mlflow server` on SQLite, and the same two on a PostgreSQL cluster that
the whole session shares (a fresh database per server).

Another module reuses them by naming the fixtures; each fixture yields a small dataclass
(URLs, client environment, log paths) from tests/servers.py or tests/postgres.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import require
from tests.postgres import Postgres, postgres_bin, running_postgres
from tests.servers import (
    MlflowServer,
    PrefectServer,
    running_mlflow_server,
    running_prefect_server,
)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server on SQLite in a temporary folder."""
    with running_prefect_server(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """An MLflow server on SQLite, artifacts proxied into a temporary folder."""
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster for the session (skips, saying why, where not installed)."""
    bin_dir = postgres_bin()
    require(
        bin_dir is not None,
        "needs Debian's postgresql (/usr/lib/postgresql/NN/bin; as root: make postgres)",
    )
    assert bin_dir is not None
    with running_postgres(bin_dir) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def postgres_prefect_server(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    """A Prefect server whose database is a fresh PostgreSQL database (driver asyncpg)."""
    root = tmp_path_factory.mktemp("prefect-postgres")
    database = postgres.create_database(_database_name(root.name))
    with running_prefect_server(root, postgres.url(database, driver="asyncpg")) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_mlflow_server(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """An MLflow server whose backend store and registry are a fresh PostgreSQL database."""
    root = tmp_path_factory.mktemp("mlflow-postgres")
    database = postgres.create_database(_database_name(root.name))
    with running_mlflow_server(root, postgres.url(database, driver="psycopg")) as server:
        yield server


def _database_name(folder: str) -> str:
    # tmp_path_factory numbers its folders (prefect-postgres0, ...): unique in the session.
    return folder.replace("-", "_")
