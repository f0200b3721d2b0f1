"""The incoming folder: labelled CoNLL files added for training, one per content."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nerflow.config import DataConfig
from nerflow.corpus.conll import Sentence, check_regular_file, content_sha256, iter_conll
from nerflow.corpus.sources import CONLL_SUFFIXES
from nerflow.locks import file_lock

#: What an ingested file is called: the original stem and the first 12 hex digits of the
#: SHA-256 of what the reader reads.
_NAME = re.compile(r"^(?P<stem>.+)-(?P<digest>[0-9a-f]{12})\.conll$")

#: Held while an ingest publishes (hidden: the folder's readers skip it).
LOCK_FILE = ".ingest.lock"


@dataclass(frozen=True)
class Ingested:
    """What `ingest` did with one file."""

    source: Path
    target: Path
    tweets: int
    added: bool  # False: the same content was already there


def incoming_files(folder: Path | None) -> list[Path]:
    """The CoNLL files in the incoming folder by name (hidden ones skipped); none if unset."""
    # Anything else there is an error: nothing a user dropped in is silently ignored.
    if folder is None or not folder.exists():
        return []
    if not folder.is_dir():
        raise NotADirectoryError(f"incoming folder {folder} is a file, not a folder")
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if not path.is_file() or path.suffix not in CONLL_SUFFIXES:
            raise ValueError(
                f"{path}: not a CoNLL file ({', '.join(CONLL_SUFFIXES)}); the incoming folder "
                "holds only training files (add them with `nerflow ingest`)"
            )
        files.append(path)
    return files


def content_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of what the reader reads (words and tags), and the tweet count, streamed."""
    tweets = 0

    def counted() -> Iterator[Sentence]:
        nonlocal tweets
        for sentence in iter_conll(path):
            tweets += 1
            yield sentence

    return content_sha256(counted()), tweets


def ingest(
    files: list[Path], folder: Path, max_mb: float = DataConfig().max_ingest_mb
) -> list[Ingested]:
    """Check every file, then copy each new one into `folder` as `<stem>-<sha12>.conll`."""
    # All or nothing: one bad or too-big file, or a failed copy, adds none of the batch. One
    # ingest at a time per folder: the same tweets under several names are still one file.
    checked = []
    for path in files:
        check_ingestible(path, max_mb)
        digest, tweets = content_digest(path)
        checked.append((path, digest[:12], tweets))
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / LOCK_FILE, f"incoming folder {folder}"):
        present = {m["digest"]: p for p in incoming_files(folder) if (m := _NAME.match(p.name))}
        done: list[Ingested] = []
        staged: dict[Path, Path] = {}
        for path, short, tweets in checked:
            if short in present:
                done.append(Ingested(path, present[short], tweets, added=False))
                continue
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("._") or "incoming"
            present[short] = folder / f"{stem}-{short}.conll"
            staged[path] = present[short]
            done.append(Ingested(path, present[short], tweets, added=True))
        _publish(staged)
    return done


def check_ingestible(path: Path, max_mb: float) -> None:
    """Refuse, before anything reads it, a path that is not a regular file or is too big."""
    check_regular_file(path)
    size = path.stat().st_size
    if size > max_mb * 1e6:
        raise ValueError(
            f"{path}: {size:,} bytes, over the ingest limit of {max_mb:g} MB "
            "(--max-mb, data.max_ingest_mb): split it, or raise the limit if training "
            "time and memory allow"
        )


def _publish(copies: dict[Path, Path]) -> None:
    """Copy each source to its target: every copy is made first, then all are renamed in."""
    scratch = {
        source: target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        for source, target in copies.items()
    }
    published: list[Path] = []
    try:
        for source, part in scratch.items():
            try:
                shutil.copyfile(source, part)
            except OSError as exc:
                raise OSError(
                    f"{source}: cannot copy into {part.parent}: {exc.strerror or exc}"
                ) from exc
        for source, part in scratch.items():
            os.replace(part, copies[source])
            published.append(copies[source])
    except BaseException:
        for target in published:
            target.unlink(missing_ok=True)
        raise
    finally:
        for part in scratch.values():
            part.unlink(missing_ok=True)
