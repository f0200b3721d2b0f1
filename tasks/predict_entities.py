"""Raw text in, entity spans out: pre-tokenize like the corpus, tag words, join spans."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tasks.evaluate_model import Aggregation, load_model, predict_word_tags

# The corpus is tokenized with URLs, @mentions and #hashtags kept whole, words with inner
# apostrophes kept whole, and every other non-space symbol (punctuation, emoji) on its own;
# raw text is split the same way so the model sees what it was trained on.
_TOKEN = re.compile(
    r"https?://\S+|www\.\S+"  # URLs
    r"|[@#]\w+"  # mentions and hashtags
    r"|\w+(?:['\u2019]\w+)*"  # words, don't, O'Brien (straight or curly apostrophe)
    r"|[^\w\s]",  # any other single symbol
    re.UNICODE,
)


@dataclass(frozen=True)
class Word:
    """A pre-tokenized word and its character offsets in the original text."""

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
    """Split raw text into corpus-style words with offsets into `text`."""
    return [Word(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


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
    return spans


class EntityPredictor:
    """A loaded model that turns texts into entity spans, batched and sorted by length."""

    def __init__(
        self,
        model_dir: Path,
        max_length: int = 128,
        batch_size: int = 64,
        aggregation: Aggregation = "first",
        device: str = "auto",
    ) -> None:
        self.tokenizer, self.network = load_model(model_dir, device)
        self.max_length = max_length
        self.batch_size = batch_size
        self.aggregation = aggregation

    def predict(self, texts: list[str]) -> list[list[Span]]:
        """Entity spans for each text; an empty or symbol-free text gives no spans."""
        words = [pretokenize(text) for text in texts]
        tags, scores = predict_word_tags(
            self.tokenizer,
            self.network,
            [[w.text for w in ws] for ws in words],
            self.max_length,
            self.batch_size,
            self.aggregation,
        )
        return [
            spans_from_tags(text, ws, t, s)
            for text, ws, t, s in zip(texts, words, tags, scores, strict=True)
        ]
