"""The one @-mention convention training uses (its decoding rule is in
`nerflow.inference.mentions`, which logged models carry), and the score on names (bare `@`
entities left out).

BTC splits a mention into two words, `@` and the user name. Sections E, F, G and H tag the `@`
itself as an entity of the name's type (`@ B-PER`, `colgo B-PER`); section B mostly tags it `O`.
Validation (H) and test (F) are always scored against their own gold, in the E-H convention.
"""

from __future__ import annotations

from nerflow.config import MentionConvention
from nerflow.inference.mentions import MENTION

#: The conventions that retag the training split's `@` (the others use the tags as labelled).
HARMONIZING: frozenset[str] = frozenset({"mention-entity", "mention-o"})


def harmonize_mentions(
    words: list[str], tags: list[str], convention: MentionConvention
) -> list[str]:
    """The training tags with every `@` before an entity tagged the one way `convention` says.

    mention-entity: such an `@` is `B-<type>` of the entity its name starts (E-H's way);
    mention-o: it is `O` (the decoding rule gives it back). An `@` before a word that starts no
    entity keeps its tag.
    """
    if convention not in HARMONIZING:
        return tags
    out = list(tags)
    for i, word in enumerate(words[:-1]):
        after = out[i + 1]
        if word != MENTION or after == "O":
            continue
        kind = after[2:]
        if convention == "mention-entity" and out[i] == "O" and after.startswith("B-"):
            out[i] = after
        elif convention == "mention-o" and out[i][2:] == kind and out[i].startswith("B-"):
            # `@ B-X name I-X` (one entity) loses its `@`: the name then starts the entity.
            out[i], out[i + 1] = "O", "B-" + kind
    return out


def without_bare_mentions(words: list[str], tags: list[str]) -> list[str]:
    """The tags with every entity that is an `@` alone made `O`: what the score on names reads."""
    out = list(tags)
    for i, word in enumerate(words):
        after = out[i + 1] if i + 1 < len(out) else "O"
        if word == MENTION and out[i].startswith("B-") and after != "I-" + out[i][2:]:
            out[i] = "O"
    return out
