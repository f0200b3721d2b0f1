"""Locks between processes that a crash cannot leave behind, and that say who holds them."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

#: How often a process blocked on another's lock says it is still waiting.
WAIT_REPORT_SECONDS = 60.0

#: `(name, what, timeout)` -> a lock every machine of the deployment sees; installed by the
#: orchestration layer when there is such a thing (a configured Prefect server).
SharedLocks = Callable[[str, str, float | None], AbstractContextManager[None]]
_shared_locks: SharedLocks | None = None
_shared_active: Callable[[], bool] = bool


def use_shared_locks(
    factory: SharedLocks | None, active: Callable[[], bool] = lambda: True
) -> None:
    """Take cross-machine locks from `factory` whenever `active()` says so at the time of
    locking (None: this machine's file locks only)."""
    global _shared_locks, _shared_active
    _shared_locks, _shared_active = factory, active


@contextmanager
def named_lock(
    name: str, what: str, path: Path, timeout: float | None = None, shared: bool = True
) -> Iterator[None]:
    """Hold lock `name` across machines where shared locks are installed (and `shared`),
    else the file lock at `path`, which only processes on this machine see."""
    if shared and _shared_locks is not None and _shared_active():
        with _shared_locks(name, what, timeout):
            yield
    else:
        with file_lock(path, what, timeout):
            yield


@contextmanager
def file_lock(path: Path, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive `flock` on `path`: the kernel frees it when its holder dies, so a
    crashed run never blocks the next; a waiter names the holder now and every minute."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        waited_since = time.monotonic()
        last_report: float | None = None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if timeout is not None and now - waited_since > timeout:
                    raise TimeoutError(
                        f"{what} stayed locked for {timeout:.0f} s ({_holder(handle)})"
                    ) from None
                if last_report is None or now - last_report >= WAIT_REPORT_SECONDS:
                    logger.warning(
                        "waiting for %s: %s holds it (waited %.0f s)",
                        what, _holder(handle), now - waited_since,
                    )  # fmt: skip
                    last_report = now
                time.sleep(0.5)
        try:
            handle.seek(0)
            handle.truncate()
            started = datetime.now(UTC).isoformat(timespec="seconds")
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(handle: object) -> str:
    handle.seek(0)  # type: ignore[attr-defined]
    return handle.read().strip() or "another process"  # type: ignore[attr-defined]


@contextmanager
def registry_lock(uri: str, registered_model: str, timeout: float = 1800) -> Iterator[None]:
    """Serialize registry writes for one registered model, on every machine that shares the
    Prefect server where one is configured."""
    # Two runs finishing together would otherwise both see "not registered yet" and register
    # the same model twice, or move an alias from stale reads.
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
