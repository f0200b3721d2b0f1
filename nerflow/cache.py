"""The step cache: output folders keyed on their inputs' content and code, published whole."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nerflow.locks import named_lock
from nerflow.shared import SharedStore, store_of

#: A finished output folder carries this file; its content is the folder's fingerprint.
FINGERPRINT_FILE = "FINGERPRINT"
#: ...this one the seconds the step spent computing it (its cost, even when reused)...
SECONDS_FILE = "SECONDS"
#: ...and this one every other file's SHA-256: a folder is reused only while they all match.
CONTENTS_FILE = "CONTENTS"

logger = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fingerprint_path(path: Path) -> str:
    """A content fingerprint of a file or folder (a finished output folder's own, if it has one)."""
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise FileNotFoundError(f"cannot fingerprint {path}: no such file or folder")
    own = path / FINGERPRINT_FILE
    if own.is_file():
        return own.read_text(encoding="utf-8").strip()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


def stable_value(value: Any) -> Any:
    """Turn a step input into plain data that identifies its content (Paths by fingerprint)."""
    identity = getattr(value, "cache_identity", None)
    if callable(identity):  # a config that knows what its content is (e.g. model weights)
        return stable_value(identity())
    if isinstance(value, BaseModel):
        return {name: stable_value(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Path):
        return fingerprint_path(value) if value.exists() else str(value)
    if isinstance(value, dict):
        return {str(k): stable_value(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [stable_value(v) for v in value]
    return value


def content_key(*parts: Any) -> str:
    """A short, stable hash of any mix of config models, paths and plain values."""
    payload = json.dumps([stable_value(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@contextmanager
def atomic_dir(final: Path, fingerprint: str, started: float | None = None) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block completes (and, with
    `started`, a `perf_counter` reading, keeps the compute time)."""
    # A crash leaves a `.tmp-*` folder beside `final`, ignored by the next attempt and
    # cleaned up by a finished one: nothing half-written is ever visible at `final`.
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        yield scratch
        if started is not None:
            seconds = time.perf_counter() - started
            (scratch / SECONDS_FILE).write_text(f"{seconds:.3f}\n", encoding="utf-8")
        contents = json.dumps(_file_digests(scratch), indent=0, sort_keys=True)
        (scratch / CONTENTS_FILE).write_text(contents + "\n", encoding="utf-8")
        (scratch / FINGERPRINT_FILE).write_text(fingerprint + "\n", encoding="utf-8")
        if final.exists():  # a concurrent writer finished first: its result is as good
            shutil.rmtree(scratch)
        else:
            os.replace(scratch, final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    for stale in final.parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def compute_seconds(folder: Path) -> float | None:
    """How long the step that wrote `folder` worked (None if it did not say)."""
    path = folder / SECONDS_FILE
    return float(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_complete(folder: Path) -> bool:
    """True when `folder` was finished by `atomic_dir` and every file it listed is unchanged."""
    return damage(folder) is None


def damage(folder: Path) -> str | None:
    """What keeps a folder from being reused (None: finished, and every file as published)."""
    if not (folder / FINGERPRINT_FILE).is_file():
        return "unfinished"
    try:
        listed = json.loads((folder / CONTENTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its {CONTENTS_FILE} list is missing or unreadable"
    present = _file_digests(folder)
    for name, digest in sorted(listed.items()):
        if name not in present:
            return f"{name} is missing"
        if present[name] != digest:
            return f"{name} was changed since it was written"
    return None


def _file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in `folder` but the two markers `atomic_dir` writes last."""
    markers = {folder / FINGERPRINT_FILE, folder / CONTENTS_FILE}
    return {
        str(file.relative_to(folder)): sha256_file(file)
        for file in sorted(folder.rglob("*"))
        if file.is_file() and file not in markers
    }


@contextmanager
def output_lock(folder: Path, shared: bool = False) -> Iterator[None]:
    """Hold the lock on building `folder`: every process on this machine sees it, and with
    `shared` every machine too, where the orchestration layer installed shared locks."""
    name = f"{folder.parent.name}-{folder.name}"
    # Beside the steps' folders, not in them: a listing of a step's outputs shows outputs.
    path = folder.parent.parent / ".locks" / f"{name}.lock"
    with named_lock(f"nerflow-step-{name}", str(folder), path, shared=shared):
        yield


class StepStopped(Exception):
    """A step stopped on purpose (a pruned trial): nothing published, and not a failure."""


@dataclass(frozen=True)
class StepOutput:
    """A step's output folder, and whether this call reused it instead of computing it."""

    path: Path
    reused: bool


_produced: ContextVar[list[StepOutput] | None] = ContextVar("nerflow_produced", default=None)


@contextmanager
def watch_outputs() -> Iterator[list[StepOutput]]:
    """Collect the `StepOutput`s that `produce` returns inside the block."""
    produced: list[StepOutput] = []
    token = _produced.set(produced)
    try:
        yield produced
    finally:
        _produced.reset(token)


def produce(folder: Path, build: Callable[[Path], None]) -> Path:
    """`folder` as it is when complete; else copied from the shared store or built by
    `build(scratch)`, under a lock, so that it is built once, and published whole."""
    store = store_of(folder.parent.parent)
    relative = f"{folder.parent.name}/{folder.name}"
    reused = True
    if not is_complete(folder):
        with output_lock(folder, shared=store is not None):
            if (problem := damage(folder)) is not None:
                _discard(folder, problem)
                if store is not None and store.is_finished(relative, FINGERPRINT_FILE):
                    # Its own SECONDS file comes with it: the step's cost where it was built.
                    with atomic_dir(folder, folder.name) as scratch:
                        store.download(relative, scratch)
                else:
                    reused = False
                    with atomic_dir(folder, folder.name, time.perf_counter()) as scratch:
                        build(scratch)
                    # Published before the lock is let go: a machine waiting on it then
                    # finds the folder in the store instead of building it again.
                    if store is not None:
                        store.upload(folder, relative, FINGERPRINT_FILE)
    elif store is not None:
        _publish(store, folder, relative)
    if (produced := _produced.get()) is not None:
        produced.append(StepOutput(folder, reused))
    return folder


def _discard(folder: Path, problem: str) -> None:
    """Remove a finished folder that is no longer whole, saying why, so it is built again."""
    if not folder.exists():
        return
    logger.warning("%s cannot be reused (%s): computing it again", folder, problem)
    shutil.rmtree(folder)


def _publish(store: SharedStore, folder: Path, relative: str) -> None:
    """Put a folder found here in the store unless it is there; under the lock, so that two
    machines never interleave the files of their two (equivalent, not byte-equal) builds."""
    if store.is_finished(relative, FINGERPRINT_FILE):
        return
    with output_lock(folder, shared=True):
        if not store.is_finished(relative, FINGERPRINT_FILE):
            store.upload(folder, relative, FINGERPRINT_FILE)
