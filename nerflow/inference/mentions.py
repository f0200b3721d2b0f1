"""How a model gives each `@` of an @-mention its type at prediction (the decoding rule of the
@-mention conventions in `nerflow.corpus.conventions`); logged models carry this module."""

from __future__ import annotations

from typing import Any

#: The conventions whose models give each `@` its mention's type at decoding.
DECODING: frozenset[str] = frozenset({"decode", "mention-o"})

#: The model's config.json attribute that carries the convention it was trained under.
CONFIG_ATTRIBUTE = "nerflow_mention_convention"

MENTION = "@"


def decode_mentions(
    words: list[str], tags: list[str], scores: list[float] | None = None
) -> tuple[list[str], list[float]]:
    """Each `@` takes `B-<type>` (and the score) of the next word when that word starts an
    entity, else `O`; an `@ name` predicted as one entity becomes two, as the corpus tags it."""
    out, probabilities = list(tags), list(scores or [0.0] * len(tags))
    for i, word in enumerate(words):
        if word != MENTION:
            continue
        after = out[i + 1] if i + 1 < len(out) else "O"
        if after == "O":
            out[i] = "O"
            continue
        out[i] = out[i + 1] = "B-" + after[2:]
        probabilities[i] = probabilities[i + 1]
    return out, probabilities


def decodes_mentions(model_config: Any) -> bool:
    """Whether a model (its transformers config) was trained under a decoding convention."""
    return getattr(model_config, CONFIG_ATTRIBUTE, None) in DECODING
