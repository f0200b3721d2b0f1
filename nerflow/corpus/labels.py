"""The BTC tag set, and bringing another corpus's tags onto it (scheme to IOB2, types)."""

from __future__ import annotations

from typing import Literal

#: The BTC tag set in IOB2, in the order the ClassLabel feature uses.
LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
#: The entity types scored and reported.
ENTITY_TYPES = ("PER", "ORG", "LOC")

Scheme = Literal["iob2", "iob1", "bioes"]
#: What `nerflow evaluate --scheme` takes: a scheme, or `auto` to detect BIOES.
SchemeChoice = Literal["auto", "iob2", "iob1", "bioes"]
#: Tag prefixes that occur only in BIOES (BILOU) data.
BIOES_ONLY = frozenset({"E", "S", "L", "U"})
#: Name fragments that suggest which BTC type another corpus's type is.
_HINTS = {
    "PER": ("per", "people", "human", "name"),
    "ORG": ("org", "corp", "compan", "group", "institution"),
    "LOC": ("loc", "geo", "gpe", "place", "city", "country", "fac"),
}


def parse_label_map(text: str | None) -> dict[str, str]:
    """`person=PER,location=LOC` into a mapping; targets must be PER, ORG or LOC."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in text.split(","):
        source, sep, target = item.partition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise ValueError(f"label map entry {item!r}: expected SOURCE=TARGET")
        if target not in ENTITY_TYPES:
            allowed = ", ".join(ENTITY_TYPES)
            raise ValueError(f"label map entry {item!r}: target {target!r} is not one of {allowed}")
        mapping[source] = target
    return mapping


def to_btc_tags(tags: list[str], scheme: Scheme, label_map: dict[str, str]) -> list[str]:
    """One sentence's tags in IOB2 over PER/ORG/LOC (no map: those three); the rest O."""
    mapping = label_map or {t: t for t in ENTITY_TYPES}
    out: list[str] = []
    previous = "O"
    for tag in tags:
        prefix, _, kind = tag.partition("-")
        if tag == "O" or kind not in mapping:
            out.append("O")
            previous = "O"
            continue
        target = mapping[kind]
        if prefix not in {"B", "I", "E", "S", "L", "U"}:
            raise ValueError(f"tag {tag!r}: unknown prefix {prefix!r} for scheme {scheme}")
        if scheme == "bioes":
            begins = prefix in {"B", "S", "U"}
        else:  # iob1 and iob2: an I- that does not continue its type opens an entity
            begins = prefix == "B" or previous != target
        out.append(("B-" if begins else "I-") + target)
        previous = "O" if scheme == "bioes" and prefix in {"E", "S", "L", "U"} else target
    return out


def suggest_label_map(types: list[str]) -> str:
    """A `--label-map` guessed from type names (person -> PER, geo-loc -> LOC, ...)."""
    pairs = []
    for name in types:
        lowered = name.lower()
        target = next((t for t, hints in _HINTS.items() if any(h in lowered for h in hints)), None)
        if target is not None:
            pairs.append(f"{name}={target}")
    return ",".join(pairs)
