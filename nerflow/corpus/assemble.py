"""One DatasetDict from the base corpus, extra sources and incoming files, with its manifest."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, concatenate_datasets

from nerflow.cache import content_key, sha256_file, stable_value
from nerflow.config import DataConfig, MentionConvention
from nerflow.corpus.conll import Sentence, content_sha256, read_conll
from nerflow.corpus.consistency import write_conventions
from nerflow.corpus.conventions import HARMONIZING, harmonize_mentions
from nerflow.corpus.incoming import incoming_files
from nerflow.corpus.labels import ENTITY_TYPES, LABELS
from nerflow.corpus.manifest import MANIFEST, Manifest, SourceEntry
from nerflow.corpus.sources import (
    BTC_COMMIT,
    SPLITS,
    HubSource,
    SourceFile,
    base_sources,
    extra_sources,
    features,
    load_hub,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadFile:
    """A source file as read: its tweets and the checksum of what was read."""

    source: SourceFile
    sentences: list[Sentence]
    content_sha256: str


def collect_sources(data: DataConfig, work_dir: Path) -> list[SourceFile | HubSource]:
    """Every source of this run: the base corpus, `[[data.extra]]`, then the incoming files."""
    incoming = [SourceFile("train", "incoming", p) for p in incoming_files(data.incoming_dir)]
    return [*base_sources(data, work_dir), *extra_sources(data.extra), *incoming]


def read_sources(sources: list[SourceFile | HubSource]) -> list[ReadFile | HubSource]:
    """Read every CoNLL file once (a malformed one fails here, naming file and line)."""
    # A file whose tweets another source already gave (an incoming copy of a BTC section) is
    # left out: the same tweets twice would weigh double, or leak validation into training.
    out: list[ReadFile | HubSource] = []
    seen: dict[str, Path] = {}
    for source in sources:
        if isinstance(source, HubSource):
            out.append(source)
            continue
        read = ReadFile(source, sentences := read_conll(source.path), content_sha256(sentences))
        if (first := seen.get(read.content_sha256)) is not None:
            logger.warning("%s: the same tweets as %s; left out", source.path, first)
            continue
        seen[read.content_sha256] = source.path
        out.append(read)
    return out


def split_fingerprints(
    read: list[ReadFile | HubSource], convention: MentionConvention
) -> dict[str, str]:
    """One content key per split over what feeds it (files by content, hubs by id); the
    training split's includes the @-mention convention its tags are harmonized to."""
    parts: dict[str, list[Any]] = {split: [] for split in SPLITS}
    for item in read:
        if isinstance(item, HubSource):
            targets = [item.split] if item.split else list(SPLITS)
            for split in targets:
                parts[split].append(["hub", stable_value(_hub_identity(item)), split])
        else:
            parts[item.source.split].append([item.source.origin, item.content_sha256])
    parts["train"].append(["mentions", convention])
    return {split: content_key(split, items) for split, items in parts.items()}


def data_fingerprint(splits: dict[str, str]) -> str:
    """The data version: all three splits' content."""
    return content_key(splits)


def write_dataset(data: DataConfig, read: list[ReadFile | HubSource], out: Path) -> None:
    """Save the splits as a DatasetDict and the manifest in `out`."""
    parts: dict[str, list[Dataset]] = {split: [] for split in SPLITS}
    entries: list[SourceEntry] = []
    for item in read:
        if isinstance(item, HubSource):
            for split, rows in load_hub(item).items():
                parts[split].append(rows)
                entries.append(_hub_entry(item, split, rows))
        else:
            parts[item.source.split].append(_to_dataset(item))
            entries.append(_file_entry(item))
    for split in SPLITS:
        if not parts[split]:
            raise ValueError(f"{data.source} corpus: split {split!r} is empty or missing")
    _require_entities(data, entries)
    dataset = DatasetDict({split: concatenate_datasets(parts[split]) for split in SPLITS})
    # Training alone is harmonized: validation and test are scored against their own gold.
    dataset["train"] = harmonized(dataset["train"], data.mention_convention)
    fingerprints = split_fingerprints(read, data.mention_convention)
    manifest = Manifest(
        source=data.source,
        hub_id=data.hub_id,
        btc_commit=BTC_COMMIT if data.source == "btc" else None,
        btc_train_sections=list(data.btc_train_sections) if data.source == "btc" else None,
        mention_convention=data.mention_convention,
        sources=entries,
        splits={split: len(dataset[split]) for split in SPLITS},
        split_fingerprints=fingerprints,
        fingerprint=data_fingerprint(fingerprints),
        description=describe(data, entries),
    )
    dataset.save_to_disk(str(out / "dataset"))
    (out / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    write_conventions(read, out, data.mention_convention)
    logger.info("dataset %s (%s): %s", manifest.fingerprint[:12], manifest.description,
                manifest.splits)  # fmt: skip


def harmonized(rows: Dataset, convention: MentionConvention) -> Dataset:
    """The rows with their tags in one @-mention convention (`harmonize_mentions`)."""
    if convention not in HARMONIZING:
        return rows
    names = rows.features["ner_tags"].feature.names

    def harmonize(row: dict[str, Any]) -> dict[str, Any]:
        tags = harmonize_mentions(row["tokens"], [names[t] for t in row["ner_tags"]], convention)
        return {"ner_tags": [names.index(t) for t in tags]}

    # In memory: a cache file would land beside a dataset another step may own.
    return rows.map(harmonize, keep_in_memory=True, desc=f"@-mentions: {convention}")


def describe(data: DataConfig, entries: list[SourceEntry]) -> str:
    """A short name of the data a reader can tell versions apart by:
    `btc a+b+e+g + 2 incoming, @ mention-o` (the sources, then the @-mention convention)."""
    if data.source == "btc":
        base = "btc " + "+".join(data.btc_train_sections)
    else:
        base = f"{data.source} {data.hub_id or (data.local_dir.name if data.local_dir else '')}"
    counts = Counter(entry.origin for entry in entries)
    extras = [f"{counts[o]} {o}" for o in ("extra", "incoming") if counts[o]]
    return " + ".join([base.strip(), *extras]) + f", @ {data.mention_convention}"


def _require_entities(data: DataConfig, entries: list[SourceEntry]) -> None:
    """Stop at the data step when training or validation has not one entity: a model trained
    on all-O tags predicts O everywhere, and all-O validation scores every model 0, so either
    would pass the gate on nothing (a mis-tagged or wrong-column file, usually)."""
    for split, purpose in (("train", "teach"), ("validation", "score")):
        feeding = [entry for entry in entries if entry.split == split]
        if not any(sum(entry.entities.values()) for entry in feeding):
            raise ValueError(
                f"{data.source} corpus: the {split} split "
                f"({', '.join(entry.name for entry in feeding)}; "
                f"{sum(entry.tweets for entry in feeding)} tweets) has not one entity, "
                f"every tag is O: it cannot {purpose} NER; check the files' tags"
            )


def _entity_counts(tags: list[list[str]]) -> dict[str, int]:
    # An entity starts at B-X or, as seqeval reads it, at an I-X that does not continue an X:
    # hub rows are not repaired to IOB2 the way CoNLL files are (an IOB1 set has few B-).
    counts = Counter(
        tag[2:]
        for row in tags
        for before, tag in zip(["O", *row], row, strict=False)
        if tag.startswith("B-") or (tag.startswith("I-") and before[2:] != tag[2:])
    )
    return {kind: counts.get(kind, 0) for kind in ENTITY_TYPES}


def _file_entry(item: ReadFile) -> SourceEntry:
    return SourceEntry(
        split=item.source.split,
        origin=item.source.origin,
        name=item.source.path.name,
        path=str(item.source.path.resolve()),
        sha256=sha256_file(item.source.path),
        content_sha256=item.content_sha256,
        tweets=len(item.sentences),
        entities=_entity_counts([s.tags for s in item.sentences]),
    )


def _hub_entry(item: HubSource, split: str, rows: Dataset) -> SourceEntry:
    names = rows.features["ner_tags"].feature.names
    tags = [[names[t] for t in row] for row in rows["ner_tags"]]
    return SourceEntry(
        split=split,
        origin=item.origin,
        name=item.hub_id,
        revision=item.revision,
        tweets=len(rows),
        entities=_entity_counts(tags),
    )


def _hub_identity(item: HubSource) -> Any:
    local = Path(item.hub_id)
    return [local if local.exists() else item.hub_id, item.revision]


def _to_dataset(item: ReadFile) -> Dataset:
    stem = item.source.path.stem
    return Dataset.from_dict(
        {
            "id": [f"{stem}:{sentence.line}" for sentence in item.sentences],
            "tokens": [s.tokens for s in item.sentences],
            "ner_tags": [[LABELS.index(t) for t in s.tags] for s in item.sentences],
        },
        features=features(),
    )
