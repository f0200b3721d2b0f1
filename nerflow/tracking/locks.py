"""Tracking locks: one registry writer per registered model, one creator per new store."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nerflow.locking import file_lock, named_lock


@contextmanager
def registry_lock(uri: str, registered_model: str, timeout: float = 1800) -> Iterator[None]:
    """Serialize registry writes for one registered model.

    Two runs finishing together would otherwise both see "not registered yet" and register
    the same model twice, or move an alias from stale reads. With a Prefect server
    configured the lock is a global concurrency limit there, so it spans every machine that
    shares the tracking server; without one, an OS file lock on this machine. Either way a
    killed holder cannot block the next run for long (the file lock dies with its process,
    the server's lease expires).
    """
    digest, path = _lock_file("registry", f"{uri}|{registered_model}")
    what = f"the registry of {registered_model!r}"
    with named_lock(f"nerflow-registry-{digest}", what, path, timeout):
        yield


@contextmanager
def store_creation_lock(uri: str) -> Iterator[None]:
    """Serialize the creation (or migration) of the store at `uri` on this machine: two
    processes creating one database's tables at once would fail (`duplicate column`)."""
    _, path = _lock_file("store", uri)
    with file_lock(path, f"the creation of MLflow store {uri}", timeout=600):
        yield


def _lock_file(kind: str, key: str) -> tuple[str, Path]:
    """A short digest of `key`, and the machine-wide lock file named by it."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return digest, Path(tempfile.gettempdir()) / "nerflow-locks" / f"{kind}-{digest}.lock"
