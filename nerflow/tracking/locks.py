"""The registry lock: one writer at a time per registered model."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nerflow.locking import file_lock


@contextmanager
def registry_lock(uri: str, registered_model: str, timeout: float = 1800) -> Iterator[None]:
    """Serialize registry writes for one registered model across processes on this machine.

    Two runs finishing together would otherwise both see "not registered yet" and register
    the same model twice, or move an alias from stale reads. (Processes on other machines
    sharing a remote tracking server are not covered by a local file lock.) A killed
    holder releases it; a waiting process says who holds it.
    """
    digest = hashlib.sha256(f"{uri}|{registered_model}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "nerflow-locks" / f"registry-{digest}.lock"
    with file_lock(path, f"the registry of {registered_model!r}", timeout):
        yield
