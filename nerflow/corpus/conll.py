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
    """All the sentences of a CoNLL file (see `iter_conll`)."""
    return list(iter_conll(path, labels))


def iter_conll(path: Path, labels: tuple[str, ...] | None = LABELS) -> Iterator[Sentence]:
    """Yield a CoNLL file's `TOKEN<TAB>TAG` sentences (split on blank lines) one at a time.

    `labels=None` accepts any `O` or `PREFIX-TYPE` tag (mapped afterwards); otherwise tags
    must be in `labels`, and an `I-X` that does not continue an `X` is read as `B-X`.
    """
    # Real-corpus quirks are read, not refused: an empty token, a whitespace-only boundary
    # line, no blank line at the end, a BOM; NFC, so an NFD copy is the same tweets.
    check_regular_file(path)
    tokens: list[str] = []
    tags: list[str] = []
    start, offset, blank, found = 0, 0, True, False
    repaired: list[int] = []
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = _decode(path, lineno, raw, offset)
            offset += len(raw)
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
            token, tag = _columns(path, lineno, line, columns)
            tag = _checked_tag(path, lineno, tag, labels, tags[-1] if tags else "O")
            if tag != columns[1].strip():
                repaired.append(lineno)
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
            path, len(repaired), repaired[0],
        )  # fmt: skip


def _decode(path: Path, lineno: int, raw: bytes, offset: int) -> str:
    """One line as text: UTF-8, without its line end or a leading BOM, in NFC."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ConllFormatError(
            f"{path}:{lineno}: not UTF-8 "
            f"(byte 0x{raw[exc.start]:02x} at offset {offset + exc.start})"
        ) from exc
    if lineno == 1:
        line = line.removeprefix("\ufeff")
    return line if line.isascii() else unicodedata.normalize("NFC", line)


def _columns(path: Path, lineno: int, line: str, columns: list[str]) -> tuple[str, str]:
    """The token and tag of a line that has exactly two columns."""
    if len(columns) == 2:
        return columns[0].strip(), columns[1].strip()
    if "\r" in line:
        raise ConllFormatError(
            f"{path}:{lineno}: carriage return (CR) inside a line: the file has "
            "CR-only line ends; save it with LF (or CRLF) line ends"
        )
    raise ConllFormatError(
        f"{path}:{lineno}: expected 2 columns TOKEN<TAB>TAG, found {len(columns)}: {line[:80]!r}"
    )


def _checked_tag(
    path: Path, lineno: int, tag: str, labels: tuple[str, ...] | None, previous: str
) -> str:
    """The tag if allowed; an `I-X` that does not continue `previous`'s type becomes `B-X`."""
    if labels is None:
        if not _ANY_TAG.fullmatch(tag):
            raise ConllFormatError(f"{path}:{lineno}: {tag!r} is not a tag like O or B-TYPE")
        return tag
    if tag not in labels:
        raise ConllFormatError(
            f"{path}:{lineno}: unknown tag {tag!r} (expected one of {', '.join(labels)})"
        )
    # IOB2 never opens an entity with I-; seqeval would read it as a start anyway, so making
    # that explicit keeps training labels and scoring consistent.
    if tag.startswith("I-") and previous[2:] != tag[2:]:
        return "B-" + tag[2:]
    return tag


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
    """SHA-256 of what was read (words and tags): the same for a CRLF, BOM or NFD copy."""
    # The bytes of `json.dumps` of the whole list, fed a sentence at a time: a file is never
    # held twice, and the digests already in ingested files' names stay valid.
    digest = hashlib.sha256(b"[")
    for index, sentence in enumerate(sentences):
        item = json.dumps([sentence.tokens, sentence.tags], separators=(",", ":"))
        digest.update((("," if index else "") + item).encode())
    digest.update(b"]")
    return digest.hexdigest()
