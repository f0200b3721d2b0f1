"""The registry lock: one writer at a time per registered model."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nerflow.locking import named_lock


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
    digest = hashlib.sha256(f"{uri}|{registered_model}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "nerflow-locks" / f"registry-{digest}.lock"
    what = f"the registry of {registered_model!r}"
    with named_lock(f"nerflow-registry-{digest}", what, path, timeout):
        yield
