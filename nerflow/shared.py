"""Step outputs shared between machines: finished folders copied to and from one store.

A work dir attached to a store (`shared_dir`: a shared folder or an fsspec URL) publishes
every finished step folder there and copies a step another machine finished from there.
Publication is marker-last (files first, the fingerprint file last), since object stores
cannot rename a folder atomically but can write one object.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The file in a work dir that names the store it shares its step outputs through.
STORE_FILE = "SHARED_STORE"


def attach(work_dir: Path, shared_dir: str | None) -> None:
    """Record `shared_dir` (None: none) as the store of `work_dir`, for every step to read."""
    record = work_dir / STORE_FILE
    if shared_dir is None:
        record.unlink(missing_ok=True)  # creates nothing: a refused run leaves no work dir
        return
    store = SharedStore(shared_dir)
    store.check()
    work_dir.mkdir(parents=True, exist_ok=True)
    if not record.is_file() or record.read_text(encoding="utf-8").strip() != store.url:
        scratch = record.with_name(f".{STORE_FILE}.tmp")
        scratch.write_text(store.url + "\n", encoding="utf-8")
        scratch.replace(record)


def store_of(work_dir: Path) -> SharedStore | None:
    """The store `work_dir` was attached to, if any."""
    record = work_dir / STORE_FILE
    if not record.is_file():
        return None
    return SharedStore(record.read_text(encoding="utf-8").strip())


@dataclass(frozen=True)
class SharedStore:
    """A folder or fsspec URL holding finished step folders as `<step>/<key>/...`."""

    url: str

    def _fs(self) -> tuple[Any, str]:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, root.rstrip("/")

    def check(self) -> None:
        """Fail early, naming the store, when it cannot be reached or written."""
        try:
            fs, root = self._fs()
            fs.makedirs(root, exist_ok=True)
            fs.ls(root)
        except (ImportError, ValueError) as exc:  # s3fs/gcsfs not installed, unknown protocol
            raise RuntimeError(f"shared_dir {self.url!r}: {exc}") from exc
        except OSError as exc:
            raise RuntimeError(f"shared_dir {self.url!r} cannot be used: {exc}") from exc

    def is_finished(self, relative: str, marker: str) -> bool:
        """True when `<relative>/<marker>` is in the store: the folder was published whole."""
        fs, root = self._fs()
        return bool(fs.exists(f"{root}/{relative}/{marker}"))

    def download(self, relative: str, into: Path) -> int:
        """Copy the published folder `relative` into the empty folder `into`; return its bytes."""
        fs, root = self._fs()
        prefix = f"{root}/{relative}/"
        started, total = time.perf_counter(), 0
        for remote in sorted(fs.find(prefix)):
            target = into / remote[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(target))
            total += target.stat().st_size
        logger.info(
            "copied %s from the shared store %s (%.1f MB in %.1f s)",
            relative, self.url, total / 1e6, time.perf_counter() - started,
        )  # fmt: skip
        return total

    def upload(self, folder: Path, relative: str, marker: str) -> None:
        """Publish `folder` as `relative`: every file, then `marker` last (the commit)."""
        fs, root = self._fs()
        started = time.perf_counter()
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != marker)
        for local in [*files, folder / marker]:
            remote = f"{root}/{relative}/{local.relative_to(folder).as_posix()}"
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(local), remote)
        logger.info(
            "published %s to the shared store %s (%d files in %.1f s)",
            relative, self.url, len(files) + 1, time.perf_counter() - started,
        )  # fmt: skip
