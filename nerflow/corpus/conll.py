"""Read CoNLL token/tag files, surviving the real Broad Twitter Corpus quirks."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nerflow.corpus.labels import LABELS

logger = logging.getLogger(__name__)

_ANY_TAG = re.compile(r"O|[BIESLU]-\S+")


class ConllFormatError(ValueError):
    """A CoNLL file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Sentence:
    """One tweet: its words, their tags, and the line it starts on."""

    tokens: list[str]
    tags: list[str]
    line: int


def read_conll(path: Path, labels: tuple[str, ...] | None = LABELS) -> list[Sentence]:
    """Read `TOKEN<TAB>TAG` lines into sentences split on whitespace-only lines (see
    `iter_conll`)."""
    return list(iter_conll(path, labels))


def iter_conll(path: Path, labels: tuple[str, ...] | None = LABELS) -> Iterator[Sentence]:
    """Yield the sentences of a CoNLL file one at a time, reading it line by line.

    With `labels=None` any `O` or `PREFIX-TYPE` tag is accepted as it is (for other tag
    sets, mapped afterwards); otherwise tags must be in `labels`.

    Quirks kept rather than rejected (they are in the real corpus): an empty token
    (`<TAB>O`), a whitespace-only boundary line, no blank line after the last tweet.
    An `I-X` that does not continue an `X` entity is repaired to `B-X` with a warning.
    Text is read in Unicode NFC, so a decomposed (NFD) copy reads, trains and fingerprints
    as the same tweets.
    """
    check_regular_file(path)
    allowed = set(labels or ())
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    offset = 0
    blank = True
    found = False
    repaired: list[int] = []
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ConllFormatError(
                    f"{path}:{lineno}: not UTF-8 "
                    f"(byte 0x{raw[exc.start]:02x} at offset {offset + exc.start})"
                ) from exc
            offset += len(raw)
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not line.isascii():
                line = unicodedata.normalize("NFC", line)
            if not line.strip():
                if tokens:
                    found = True
                    yield Sentence(tokens, tags, start)
                    tokens, tags = [], []
                continue
            blank = False
            columns = line.split("\t") if "\t" in line else line.split()
            if columns[0].strip() == "-DOCSTART-":  # CoNLL-2003's document marker, not a word
                continue
            if len(columns) != 2:
                if "\r" in line:
                    raise ConllFormatError(
                        f"{path}:{lineno}: carriage return (CR) inside a line: the file has "
                        "CR-only line ends; save it with LF (or CRLF) line ends"
                    )
                raise ConllFormatError(
                    f"{path}:{lineno}: expected 2 columns TOKEN<TAB>TAG, found {len(columns)}: "
                    f"{line[:80]!r}"
                )
            token, tag = columns[0].strip(), columns[1].strip()
            if labels is None:
                if not _ANY_TAG.fullmatch(tag):
                    raise ConllFormatError(
                        f"{path}:{lineno}: {tag!r} is not a tag like O or B-TYPE"
                    )
            elif tag not in allowed:
                raise ConllFormatError(
                    f"{path}:{lineno}: unknown tag {tag!r} (expected one of {', '.join(labels)})"
                )
            elif tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
                # IOB2 never opens an entity with I-; seqeval would read it as a start anyway,
                # so making that explicit keeps training labels and scoring consistent.
                repaired.append(lineno)
                tag = "B-" + tag[2:]
            if not tokens:
                start = lineno
            tokens.append(token)
            tags.append(tag)
    if tokens:
        found = True
        yield Sentence(tokens, tags, start)
    if blank:
        raise ConllFormatError(f"{path}: file is empty")
    if not found:
        raise ConllFormatError(f"{path}: no tokens found")
    if repaired:
        logger.warning(
            "%s: %d I- tag(s) did not continue an entity and were read as B- (first at line %d)",
            path,
            len(repaired),
            repaired[0],
        )


def check_regular_file(path: Path) -> None:
    """Refuse, in one line naming it, a path that is not a readable regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        broken = " (a symlink to a missing file)" if path.is_symlink() else ""
        raise FileNotFoundError(f"{path}: no such file{broken}") from None
    except OSError as exc:  # a symlink loop, a path through a file, no permission
        raise ConllFormatError(f"{path}: cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ConllFormatError(f"{path}: is a folder, not a CoNLL file")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket or device"
        raise ConllFormatError(f"{path}: is {kind}, not a regular CoNLL file")


def content_sha256(sentences: Iterable[Sentence]) -> str:
    """SHA-256 of what was read (words and tags): the same for a CRLF, BOM or NFD copy.

    Hashed a sentence at a time, with the bytes of `json.dumps` of the whole list, so a
    file is never held twice and digests already in file names stay valid.
    """
    digest = hashlib.sha256(b"[")
    for index, sentence in enumerate(sentences):
        item = json.dumps([sentence.tokens, sentence.tags], separators=(",", ":"))
        digest.update((("," if index else "") + item).encode())
    digest.update(b"]")
    return digest.hexdigest()
