"""A throwaway PostgreSQL cluster: Debian's binaries, a temporary data folder, a loopback port.

PostgreSQL refuses to run as root, so under root the cluster runs as the `postgres` system
user Debian's package creates (else `nobody`) in a folder that user owns; otherwise it runs
as the current user. Authentication is `trust`: it listens on 127.0.0.1 and a socket in
its own folder only, and lives as long as the test session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.processes import LOOPBACK, as_user, free_port, log_tail, running

if TYPE_CHECKING:
    import psycopg

#: Where Debian's postgresql-NN packages put each major version: /usr/lib/postgresql/NN/bin.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "nerflow"
# A throwaway cluster needs no durability: skipping the disk flushes makes the servers'
# schema migrations (hundreds of statements) several times faster on a slow disk.
NO_DURABILITY = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def postgres_bin(root: Path = DEBIAN_ROOT) -> Path | None:
    """The bin/ folder of the newest PostgreSQL installed in Debian's layout, or None."""
    found = [
        initdb.parent
        for initdb in root.glob("*/bin/initdb")
        if (initdb.parent / "postgres").is_file() and initdb.parent.parent.name.isdigit()
    ]
    return max(found, key=lambda folder: int(folder.parent.name), default=None)


def cluster_owner() -> str | None:
    """The user the cluster runs as: None (this one) unless root, then an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise RuntimeError("running as root, and there is no postgres or nobody user to run as")


@dataclass(frozen=True)
class Postgres:
    """A running cluster: where it listens, its superuser, its folder and its log."""

    port: int
    root: Path
    log: Path
    host: str = LOOPBACK
    user: str = SUPERUSER

    def url(self, database: str, driver: str = "psycopg") -> str:
        """The SQLAlchemy URL of `database` (asyncpg for Prefect, psycopg for MLflow)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        """An autocommit psycopg connection to `database`."""
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database,
            autocommit=True, connect_timeout=5,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        """Create an empty database `name` (an error if it exists); return its name."""
        from psycopg import sql

        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def scalar(self, database: str, query: str, *params: object) -> object:
        """The first column of the first row `query` returns in `database`."""
        with self.connect(database) as connection:
            row = connection.execute(query, params).fetchone()
        assert row is not None, query
        return row[0]


@contextmanager
def running_postgres(bin_dir: Path, timeout: float = 60.0) -> Iterator[Postgres]:
    """initdb a cluster in a temporary folder, run it on a free loopback port until the block
    ends, then stop it (fast shutdown) and delete the folder."""
    owner = cluster_owner()
    # Not pytest's tmp_path: its base folder is private to this user, so `postgres` could
    # not enter it.
    root = Path(tempfile.mkdtemp(prefix="nerflow-postgres-"))
    try:
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        # No PG* variables or locale from this shell: the cluster is the same everywhere.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "LC_ALL": "C"}
        data = root / "data"
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "--pgdata", str(data), "--username", SUPERUSER,
             "--auth", "trust", "--encoding", "UTF8", "--no-locale", "--no-sync"],
            env=env, capture_output=True, text=True, check=False, **as_user(owner),
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stderr[-4000:]}")
        port = free_port()
        settings = [f"listen_addresses={LOOPBACK}", f"unix_socket_directories={root}"]
        command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
        for setting in (*settings, *NO_DURABILITY):
            command += ["-c", setting]
        log = root / "postgres.log"
        with running(command, env, log, user=owner) as server:
            cluster = Postgres(port=port, root=root, log=log)
            try:
                _wait_until_ready(cluster, server, timeout)
                yield cluster
            finally:
                _shut_down(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(cluster: Postgres, server: subprocess.Popen[bytes], timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(
                f"postgres exited with {server.returncode}:\n{log_tail(cluster.log)}"
            )
        try:
            cluster.connect().close()
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"PostgreSQL not accepting connections after {timeout:.0f} s ({error}):\n"
                    f"{log_tail(cluster.log)}"
                ) from error
        time.sleep(0.2)


def _shut_down(server: subprocess.Popen[bytes]) -> None:
    # SIGINT to the postmaster alone is PostgreSQL's fast shutdown: it ends open sessions
    # and stops its own children (SIGTERM would wait for every client to leave, and a
    # signal to the whole process group means other things to each child).
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
