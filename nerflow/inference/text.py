"""Raw text to corpus-style words with offsets, and word tags back to entity spans."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import regex

# Raw text is split the way the corpus was (checked on its files): URLs and #hashtags
# whole, "@" apart from the user name (the corpus tags each, both B-), contractions split
# Penn-Treebank style (do n't, it 's), every other symbol (punctuation, emoji) on its own.
# `regex`, not `re`: its \w takes combining marks, so a decomposed (NFD) "José" stays one
# word, not "Jose" and a lone accent.
_TOKEN = regex.compile(
    r"https?://\S+|www\.\S+"  # URLs
    r"|\#\w+"  # hashtags
    r"|\w+(?=n['\u2019]t\b)|n['\u2019]t\b"  # do|n't, ca|n't
    r"|['\u2019](?:s|m|re|ve|ll|d)\b"  # 's 'm 're 've 'll 'd
    r"|\w+"  # words, numbers, user names
    r"|[^\w\s]",  # any other single symbol, "@" included
    regex.IGNORECASE,
)


@dataclass(frozen=True)
class Word:
    """A pre-tokenized word (NFC, as the model sees it) and its offsets in the original text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Span:
    """One predicted entity: its type, surface text, offsets and mean word probability."""

    type: str
    text: str
    start: int
    end: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def pretokenize(text: str) -> list[Word]:
    """Split raw text into corpus-style words, each NFC-normalised, with offsets into `text`."""
    return [
        Word(unicodedata.normalize("NFC", m.group()), m.start(), m.end())
        for m in _TOKEN.finditer(text)
    ]


def spans_from_tags(
    text: str, words: list[Word], tags: list[str], scores: list[float]
) -> list[Span]:
    """Join IOB2 word tags into spans (an I- without its B- opens a span, as seqeval reads it)."""
    if not len(words) == len(tags) == len(scores):
        raise ValueError(f"{len(words)} words but {len(tags)} tags and {len(scores)} scores")
    spans: list[Span] = []
    current: list[int] = []
    kind = ""

    def close() -> None:
        if current:
            start, end = words[current[0]].start, words[current[-1]].end
            score = sum(scores[i] for i in current) / len(current)
            spans.append(Span(kind, text[start:end], start, end, round(score, 4)))

    for i, tag in enumerate(tags):
        prefix, _, label = tag.partition("-")
        if prefix == "I" and current and label == kind:
            current.append(i)
            continue
        close()
        current, kind = ([i], label) if prefix in {"B", "I"} else ([], "")
    close()
    return _join_mentions(text, spans)


def _join_mentions(text: str, spans: list[Span]) -> list[Span]:
    # The corpus tags "@" and the user name after it as two entities of one type; a user
    # wants the mention "@name" as one span.
    joined: list[Span] = []
    for span in spans:
        last = joined[-1] if joined else None
        if last and last.text == "@" and last.end == span.start and last.type == span.type:
            score = round((last.score + span.score) / 2, 4)
            joined[-1] = Span(span.type, text[last.start : span.end], last.start, span.end, score)
        else:
            joined.append(span)
    return joined
