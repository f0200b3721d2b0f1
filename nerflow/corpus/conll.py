"""Read CoNLL token/tag files, surviving the real Broad Twitter Corpus quirks."""

from __future__ import annotations

import hashlib
import json
import logging
import re
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
    """Read `TOKEN<TAB>TAG` lines into sentences split on whitespace-only lines.

    With `labels=None` any `O` or `PREFIX-TYPE` tag is accepted as it is (for other tag
    sets, mapped afterwards); otherwise tags must be in `labels`.

    Quirks kept rather than rejected (they are in the real corpus): an empty token
    (`<TAB>O`), a whitespace-only boundary line, no blank line after the last tweet.
    An `I-X` that does not continue an `X` entity is repaired to `B-X` with a warning.
    """
    data = path.read_bytes()
    if not data.strip():
        raise ConllFormatError(f"{path}: file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        raise ConllFormatError(
            f"{path}:{bad_line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    allowed = set(labels or ())
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    repaired: list[int] = []
    for lineno, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            if tokens:
                sentences.append(Sentence(tokens, tags, start))
                tokens, tags = [], []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        if columns[0].strip() == "-DOCSTART-":  # CoNLL-2003's document marker, not a word
            continue
        if len(columns) != 2:
            raise ConllFormatError(
                f"{path}:{lineno}: expected 2 columns TOKEN<TAB>TAG, found {len(columns)}: "
                f"{line[:80]!r}"
            )
        token, tag = columns[0].strip(), columns[1].strip()
        if labels is None:
            if not _ANY_TAG.fullmatch(tag):
                raise ConllFormatError(f"{path}:{lineno}: {tag!r} is not a tag like O or B-TYPE")
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
        sentences.append(Sentence(tokens, tags, start))
    if repaired:
        logger.warning(
            "%s: %d I- tag(s) did not continue an entity and were read as B- (first at line %d)",
            path,
            len(repaired),
            repaired[0],
        )
    if not sentences:
        raise ConllFormatError(f"{path}: no tokens found")
    return sentences


def content_sha256(sentences: list[Sentence]) -> str:
    """SHA-256 of what was read (words and tags): the same for a CRLF or BOM copy."""
    payload = json.dumps([[s.tokens, s.tags] for s in sentences], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
