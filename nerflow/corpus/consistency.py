"""The consistency report: how each source labels @-mentions, hashtags and URLs, per type.

Counted from the files as read, before the training split is harmonized to one @-mention
convention (`conventions.harmonize_mentions`): it shows what each file says, and how many of
its `@` tags training changed. BTC splits a mention (`@`, `colgo`) and, in sections A and B, a
hashtag (`#`, `word`); E-H keep `#tag` whole.
"""

from __future__ import annotations

import logging
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from pydantic import BaseModel, computed_field

from nerflow.config import MentionConvention, Split
from nerflow.corpus.conll import Sentence, read_conll
from nerflow.corpus.conventions import harmonize_mentions
from nerflow.corpus.labels import ENTITY_TYPES
from nerflow.corpus.sources import SPLITS, HubSource, SourceFile
from nerflow.inference.mentions import MENTION

if TYPE_CHECKING:
    from nerflow.reporting.tables import Style

logger = logging.getLogger(__name__)

#: Written beside the manifest in the dataset folder.
CONVENTIONS = "conventions.json"

Kind = Literal[
    "@ before entity",
    "@ in entity",
    "@ before O",
    "@name",
    "# before word",
    "word after #",
    "#tag",
    "URL",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: The columns of the count table: the tag's type, `O` first.
TYPES = ("O", *ENTITY_TYPES)

MentionStyle = Literal["entity", "O"]
#: How the corpus tags the `@` of a mention before an entity: as that entity, the way BTC's
#: sections E-H (validation and test among them) do; its gold is what every model is scored on.
CORPUS_STYLE: MentionStyle = "entity"

HASH = "#"
_URL = re.compile(r"https?:|www\.", re.IGNORECASE)
#: Origins in the order a reader meets them: the base corpus, extra sources, incoming files.
_ORIGINS = {"btc": 0, "conll": 0, "extra": 1, "incoming": 2}


class SourceConventions(BaseModel):
    """How one file labels @-mentions, hashtags and URLs, and its @-mention style."""

    name: str
    origin: str
    split: Split
    tweets: int
    counts: dict[Kind, dict[str, int]]  # kind -> type (O, PER, ORG, LOC) -> tokens
    mention_entity: int  # `@` before an entity tagged as an entity (sections E-H's way)
    mention_o: int  # `@` before an entity tagged O (section B's way)
    style: MentionStyle | None  # the majority of the two; None: no `@` before an entity
    retagged: int  # `@` tags the training split's harmonization changed (0 outside it)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def differs(self) -> bool:
        """Whether its @-mentions go against the corpus's convention (`CORPUS_STYLE`)."""
        return self.style is not None and self.style != CORPUS_STYLE


class ConsistencyReport(BaseModel):
    """The consistency report of a dataset: one entry per file source."""

    corpus_style: MentionStyle = CORPUS_STYLE
    convention: MentionConvention  # data.mention_convention: what training harmonized to
    sources: list[SourceConventions]
    skipped: list[str]  # sources not counted, each with why


class ReadSource(Protocol):
    """A file source as the data step read it (`assemble.ReadFile`)."""

    @property
    def source(self) -> SourceFile: ...

    @property
    def sentences(self) -> list[Sentence]: ...


def token_kind(words: Sequence[str], tags: Sequence[str], i: int) -> Kind | None:
    """Which kind of token `words[i]` is, if it is a mention, hashtag or URL part."""
    word, last = words[i], i + 1 == len(words)
    if word == MENTION:
        after = "O" if last else tags[i + 1]
        if after == "O":
            return "@ before O"
        # A name tagged I-: the `@` sits inside a longer entity (`Steven Joyce @ stevenljoyce`).
        return "@ before entity" if after.startswith("B-") else "@ in entity"
    if word.startswith(MENTION):
        return "@name"
    if word == HASH:
        return None if last else "# before word"
    if i > 0 and words[i - 1] == HASH:
        return "word after #"
    if word.startswith(HASH):
        return "#tag"
    return "URL" if _URL.match(word) else None


def count_labels(
    sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
) -> dict[Kind, dict[str, int]]:
    """How often each kind of token carries each tag type (`O` included), kinds in order."""
    counts: dict[Kind, Counter[str]] = {}
    for words, tags in sentences:
        for i, tag in enumerate(tags):
            if (kind := token_kind(words, tags, i)) is not None:
                counts.setdefault(kind, Counter())[tag[2:] or "O"] += 1
    return {kind: {t: counts[kind][t] for t in TYPES} for kind in KINDS if kind in counts}


def source_conventions(
    name: str,
    origin: str,
    split: Split,
    sentences: Sequence[Sentence],
    convention: MentionConvention,
) -> SourceConventions:
    """The counts and @-mention style of one file's tweets; `retagged` as training sees it."""
    counts = count_labels((s.tokens, s.tags) for s in sentences)
    before = counts.get("@ before entity", {})
    entity = sum(n for kind_type, n in before.items() if kind_type != "O")
    plain = before.get("O", 0)
    style: MentionStyle | None = None
    if entity or plain:
        style = "entity" if entity >= plain else "O"
    # The data step harmonizes the training split alone, with this very function.
    retagged = 0
    if split == "train":
        for s in sentences:
            tags = harmonize_mentions(s.tokens, s.tags, convention)
            changed = zip(s.tokens, s.tags, tags, strict=True)
            retagged += sum(w == MENTION and a != b for w, a, b in changed)
    return SourceConventions(
        name=name, origin=origin, split=split, tweets=len(sentences), counts=counts,
        mention_entity=entity, mention_o=plain, style=style, retagged=retagged,
    )  # fmt: skip


def write_conventions(
    read: Sequence[ReadSource | HubSource], out: Path, convention: MentionConvention
) -> ConsistencyReport:
    """The report of every file source as read, written to `out/conventions.json`."""
    # Deterministic (no paths, no times, a fixed order): the dataset folder is a cache key.
    sources = []
    for item in read:
        if not isinstance(item, HubSource):
            file = item.source
            counted = source_conventions(
                file.path.name, file.origin, file.split, item.sentences, convention
            )
            sources.append(counted)
    sources.sort(key=lambda s: (SPLITS.index(s.split), _ORIGINS.get(s.origin, 9), s.name))
    skipped = sorted(
        f"{_hub_name(item)}: a hub dataset; the report counts CoNLL files"
        for item in read
        if isinstance(item, HubSource)
    )
    report = ConsistencyReport(convention=convention, sources=sources, skipped=skipped)
    (out / CONVENTIONS).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for source in report.sources:
        if source.differs:
            logger.info("%s", difference(source, convention))
    return report


def read_conventions(dataset_dir: Path) -> ConsistencyReport:
    """The report the dataset step wrote in `dataset_dir`."""
    text = (dataset_dir / CONVENTIONS).read_text(encoding="utf-8")
    return ConsistencyReport.model_validate_json(text)


def difference(source: SourceConventions, convention: MentionConvention) -> str:
    """One line naming a file whose @-mentions go against the corpus, and what training does
    with them (`source.retagged` counted under `convention`)."""
    said = (
        f"{source.name}: its `@` before an entity is O in {source.mention_o}, the entity in "
        f"{source.mention_entity} (BTC E-H, validation and test, tag it as the entity)"
    )
    if source.split != "train":
        return f"{said}; not harmonized: {source.split} is scored against its own tags"
    done = f"training (data.mention_convention = {convention})"
    if convention == "mention-o":
        return (
            f"{said}; {done} tags it O ({source.retagged} `@` retagged) and the model gives it "
            "its mention's type at decoding"
        )
    if convention == "mention-entity":
        return f"{said}; {done} tags it as the entity ({source.retagged} `@` retagged)"
    rule = ", the decoding rule gives it its mention's type" if convention == "decode" else ""
    return f"{said}; {done} uses it as labelled{rule} (mention-o or mention-entity harmonize it)"


def describe_file(path: Path, name: str, convention: MentionConvention) -> str:
    """An incoming file's count table, and its difference from the corpus if it has one."""
    source = source_conventions(name, "incoming", "train", read_conll(path), convention)
    if not source.counts:
        return "no @-mentions, hashtags or URLs"
    table = render_counts([source], "text", with_source=False)
    if not source.differs:
        return table
    said = textwrap.fill(f"@-mentions differ: {difference(source, convention)}", 98)
    return f"{table}\n{said}"


def render_report(report: ConsistencyReport, style: Style) -> str:
    """The report as text or Markdown: each source's @-mention style, then every count."""
    from nerflow.reporting.tables import render

    summary = [
        {
            "source": s.name, "split": s.split, "tweets": s.tweets,
            "@ as entity": s.mention_entity, "@ as O": s.mention_o, "style": s.style or "-",
            "differs": "yes" if s.differs else "", "retagged": s.retagged,
        }
        for s in report.sources
    ]  # fmt: skip
    training = (
        "retagged counts the `@` tags training changed"
        if report.convention in ("mention-o", "mention-entity")
        else "training uses every file as labelled"
    )
    parts = [
        "The corpus (BTC E-H: validation, test) tags the `@` of a mention before an entity as "
        f"the entity. data.mention_convention = {report.convention}: {training}.",
        render(summary, style=style),
        render_counts(report.sources, style),
        *(f"left out: {reason}" for reason in report.skipped),
    ]
    return "\n\n".join(parts) + "\n"


def render_counts(
    sources: Sequence[SourceConventions], style: Style, with_source: bool = True
) -> str:
    """One row per source and kind, one column per type."""
    # Imported here: the dataset step writes the report without rendering it, and its key
    # covers the corpus package, not the reporting one.
    from nerflow.reporting.tables import render

    rows = [
        {**({"source": s.name, "split": s.split} if with_source else {}), "kind": kind, **counts}
        for s in sources
        for kind, counts in s.counts.items()
    ]
    columns = [*(("source", "split") if with_source else ()), "kind", *TYPES]
    return render(rows, columns, style=style)


def _hub_name(item: HubSource) -> str:
    # A hub id may be a local folder: its name alone keeps the report free of paths.
    return Path(item.hub_id).name if Path(item.hub_id).exists() else item.hub_id
