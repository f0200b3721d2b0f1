"""The registry lock: one writer at a time per registered model."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def registry_lock(uri: str, registered_model: str, timeout: float = 1800) -> Iterator[None]:
    """Serialize registry writes for one registered model across processes on this machine.

    Two runs finishing together would otherwise both see "not registered yet" and register
    the same model twice, or move an alias from stale reads. (Processes on other machines
    sharing a remote tracking server are not covered by a local file lock.)
    """
    digest = hashlib.sha256(f"{uri}|{registered_model}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "nerflow-locks"
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with (folder / f"registry-{digest}.lock").open("w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"registry of {registered_model!r} stayed locked for {timeout:.0f} s"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
