"""The incoming folder: labelled CoNLL files added for training, one per content.

`ingest` reads a file with the same reader as training (a bad file is refused with its
file, line and value, and nothing is copied) and publishes it atomically under a
content-addressed name, `<stem>-<sha12>.conll`: the same tweets under any name, or with
CRLF line ends, are one file, so ingesting them again changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from nerflow.corpus.conll import content_sha256, read_conll
from nerflow.corpus.sources import CONLL_SUFFIXES

#: What an ingested file is called: the original stem and the first 12 hex digits of the
#: SHA-256 of what the reader reads.
_NAME = re.compile(r"^(?P<stem>.+)-(?P<digest>[0-9a-f]{12})\.conll$")


@dataclass(frozen=True)
class Ingested:
    """What `ingest` did with one file."""

    source: Path
    target: Path
    tweets: int
    added: bool  # False: the same content was already there


def incoming_files(folder: Path | None) -> list[Path]:
    """The CoNLL files in the incoming folder, by name; none when it is unset or missing.

    Hidden files (a copy in progress) are skipped; a folder is an error, so that nothing
    the user dropped there is silently ignored.
    """
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
    """SHA-256 of what the reader reads from a file (words and tags), and its tweet count."""
    sentences = read_conll(path)
    return content_sha256(sentences), len(sentences)


def ingest(files: list[Path], folder: Path) -> list[Ingested]:
    """Validate every file, then copy each new one into `folder` under its content name.

    All files are read before anything is copied: one bad file refuses the whole batch.
    """
    checked = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        digest, tweets = content_digest(path)
        checked.append((path, digest, tweets))
    folder.mkdir(parents=True, exist_ok=True)
    present = {m["digest"]: p for p in incoming_files(folder) if (m := _NAME.match(p.name))}
    done = []
    for path, digest, tweets in checked:
        short = digest[:12]
        if short in present:
            done.append(Ingested(path, present[short], tweets, added=False))
            continue
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("._") or "incoming"
        target = folder / f"{stem}-{short}.conll"
        scratch = folder / f".{target.name}.{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(path, scratch)
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
        present[short] = target
        done.append(Ingested(path, target, tweets, added=True))
    return done
