"""All Prefect cache and lock policy, and the content fingerprints cache keys are built from."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NO_CACHE, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.filesystem import FileSystemLockManager
from prefect.results import ResultStore, get_result_store
from prefect.utilities.hashing import hash_objects
from pydantic import BaseModel

#: A finished output folder carries this file; its content is the folder's fingerprint.
FINGERPRINT_FILE = "FINGERPRINT"
#: ...and this one the seconds the step spent computing it (its cost, even on a cache hit).
SECONDS_FILE = "SECONDS"

#: Task parameters that name where to write, not what to compute: keyed by path string.
OUTPUT_PARAMS = frozenset({"work_dir"})

P = ParamSpec("P")
R = TypeVar("R")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    """Turn a task input into plain data that identifies its content (Paths by fingerprint)."""
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


def code_version(fn: Callable[..., Any]) -> str:
    """A fingerprint of the source of `fn`'s module and of the project modules it uses.

    Editing a step's module, or a project module it imports (directly or not), re-runs
    the step; editing an unrelated module does not.
    """
    root = fn.__module__.split(".")[0]
    seen: set[str] = set()
    pending = [fn.__module__]
    files: set[str] = set()
    while pending:
        name = pending.pop()
        module = sys.modules.get(name)
        if name in seen or module is None:
            continue
        seen.add(name)
        if source := getattr(module, "__file__", None):
            files.add(source)
        for value in vars(module).values():
            dep = (
                value.__name__
                if isinstance(value, ModuleType)
                else getattr(value, "__module__", None)
            )
            if isinstance(dep, str) and dep.split(".")[0] == root:
                pending.append(dep)
    if not files and (source := inspect.getsourcefile(fn)):
        files.add(source)
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(sha256_file(Path(file)).encode())
    return digest.hexdigest()[:16]


def content_key(*parts: Any) -> str:
    """A short, stable hash of any mix of config models, paths and plain values."""
    payload = json.dumps([stable_value(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@contextmanager
def atomic_dir(final: Path, fingerprint: str, started: float | None = None) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block completes.

    Nothing half-written is ever visible at `final`: a crash leaves a `.tmp-*` folder
    beside it, which the next attempt ignores (and a finished one cleans up). With
    `started` (a `time.perf_counter()` reading), the step's compute time is kept too.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        yield scratch
        if started is not None:
            seconds = time.perf_counter() - started
            (scratch / SECONDS_FILE).write_text(f"{seconds:.3f}\n", encoding="utf-8")
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
    """True when `folder` was finished by `atomic_dir`."""
    return (folder / FINGERPRINT_FILE).is_file()


class _ProjectLocks(FileSystemLockManager):
    """File locks under the active Prefect home, resolved when used rather than at import."""

    def __init__(self) -> None:
        self._locks = {}

    @property
    def lock_files_directory(self) -> Path:  # type: ignore[override]
        from prefect.settings import PREFECT_HOME

        return Path(PREFECT_HOME.value()).expanduser().resolve() / "locks"


class ContentCachePolicy(CachePolicy):
    """Key on the task's code (function and module) and its inputs' content.

    Entries whose output folder is gone are forgotten.

    Prefect's INPUTS policy hashes a Path as its string, so a changed file would hit a
    stale entry; here every Path input is replaced by its content fingerprint.
    """

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Hash task source + fingerprinted inputs; drop a record whose Path result vanished."""
        source = TASK_SOURCE.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        stable = {
            name: str(value) if name in OUTPUT_PARAMS else stable_value(value)
            for name, value in sorted(inputs.items())
        }
        module = code_version(task_ctx.task.fn)
        key = hash_objects(source, module, stable, raise_on_failure=True)
        if key is not None:
            _forget_if_output_missing(task_ctx, key)
        return key


def _forget_if_output_missing(task_ctx: TaskRunContext, key: str) -> None:
    # A cached Path whose folder was deleted must be recomputed, not returned: overwrite
    # the record with one that has already expired, which Prefect treats as absent.
    store = cast(ResultStore, get_result_store().update_for_task(task_ctx.task))
    if not store.exists(key):
        return
    try:
        result = store.read(key).result
    except Exception:
        return
    if isinstance(result, Path) and not is_complete(result) and not result.is_file():
        expired = datetime.now(UTC) - timedelta(seconds=1)
        store.write(None, key=key, expiration=cast(Any, expired))


def cached_task(fn: Callable[P, R], **options: Any) -> Task[P, R]:
    """Wrap a plain function as a Prefect task cached across runs on content, with file locks."""
    policy = ContentCachePolicy(isolation_level="SERIALIZABLE", lock_manager=_ProjectLocks())
    return task(cache_policy=policy, persist_result=True, **options)(fn)


def uncached_task(fn: Callable[P, R], **options: Any) -> Task[P, R]:
    """Wrap a plain function as a Prefect task that always runs (it talks to outside state)."""
    return task(cache_policy=NO_CACHE, **options)(fn)
