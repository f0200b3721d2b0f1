"""Where labelled tweets come from: BTC, a CoNLL folder, a hub dataset, extra sources."""

from __future__ import annotations

import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from nerflow.cache import sha256_file
from nerflow.config import BTC_DIR_ENV, DataConfig, ExtraSource, Split, btc_dir_from_env
from nerflow.corpus.labels import LABELS

logger = logging.getLogger(__name__)

#: The upstream commit the checksums below belong to.
BTC_COMMIT = "0c45ef7b1924a6b8115bceab388781590b1b553a"
BTC_URL = "https://raw.githubusercontent.com/GateNLP/broad_twitter_corpus/{commit}/{name}"
BTC_SHA256 = {
    "a.conll": "ac824cc13c88283fe3cca05343e46c79ec4cd5b174429f27bf8fe0ebdc1bbf33",
    "b.conll": "504a094a0398e03fd7b394510e313b8fc844407102252182d90aea23f53cc322",
    "e.conll": "77aca745cdc28ae0fafbcf36a93ccfd15357a8db97c21d91083592dd85e348c5",
    "f.conll": "3bd2387dfc98ebc9d8b77d8b9c59826262e9beadce71ce8edde272821b9c87c8",
    "g.conll": "d53a27645cabc4e63313d573498b48b0cc5ed780d280edfbdc4fedefe23479da",
    "h.conll": "7f31215a79f3131526236203907c8d003b8e0f8ee6eef2a216ebb685340ebe39",
}
#: The split the hub dataset GateNLP/broad_twitter_corpus uses.
BTC_SPLITS = {
    "train": ("a.conll", "b.conll", "e.conll", "g.conll"),
    "validation": ("h.conll",),
    "test": ("f.conll",),
}
SPLITS: tuple[Split, ...] = get_args(Split)


def features() -> Features:
    """The schema every source is converted to."""
    return Features(
        {
            "id": Value("string"),
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=list(LABELS))),
        }
    )


@dataclass(frozen=True)
class SourceFile:
    """A labelled CoNLL file and the split its tweets join."""

    split: Split
    origin: str  # btc | conll | incoming | extra
    path: Path


@dataclass(frozen=True)
class HubSource:
    """A hub dataset (or a local folder `load_dataset` reads) and where its splits go."""

    origin: str  # hub | extra
    hub_id: str
    revision: str | None
    split: Split | None  # None: each of its splits to its own


def base_sources(data: DataConfig, work_dir: Path) -> list[SourceFile | HubSource]:
    """The base corpus: BTC's sections (downloading the pinned files if need be), a CoNLL
    folder's split files, or a hub dataset's splits."""
    if data.source == "btc":
        folder = data.local_dir or btc_dir_from_env()
        if folder is None:
            folder = _download_btc(work_dir / "raw" / f"btc-{BTC_COMMIT[:12]}")
        _verify_btc(folder)
        sections: dict[Split, tuple[str, ...]] = {
            "train": tuple(f"{section}.conll" for section in data.btc_train_sections),
            "validation": BTC_SPLITS["validation"],
            "test": BTC_SPLITS["test"],
        }
        return [
            SourceFile(split, "btc", folder / name)
            for split, names in sections.items()
            for name in names
        ]
    if data.source == "conll":
        assert data.local_dir is not None
        found = {split: _split_file(data.local_dir, split) for split in SPLITS}  # each or raise
        return [SourceFile(split, "conll", path) for split, path in found.items() if path]
    assert data.hub_id is not None
    return [HubSource("hub", data.hub_id, data.hub_revision, None)]


def extra_sources(extra: tuple[ExtraSource, ...]) -> list[SourceFile | HubSource]:
    """The `[[data.extra]]` sources, each to its configured split (or its own splits)."""
    out: list[SourceFile | HubSource] = []
    for source in extra:
        if source.hub_id is not None:
            split = None if source.split == "own" else source.split
            out.append(HubSource("extra", source.hub_id, source.hub_revision, split))
            continue
        assert source.path is not None
        if source.split == "own":
            for split in SPLITS:
                if (path := _split_file(source.path, split, required=False)) is not None:
                    out.append(SourceFile(split, "extra", path))
        else:
            files = conll_files(source.path)
            if not files:
                raise FileNotFoundError(
                    f"{source.path}: no CoNLL files ({', '.join(CONLL_SUFFIXES)})"
                )
            out.extend(SourceFile(source.split, "extra", path) for path in files)
    return out


def conll_files(path: Path) -> list[Path]:
    """A CoNLL file, or a folder's CoNLL files by name (hidden and partial files skipped)."""
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{path}: no such CoNLL file or folder")
    if not path.is_dir():
        return [path]  # the reader says what it is if not a file (a pipe, a link loop)
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix in CONLL_SUFFIXES and not p.name.startswith(".")
    )


def load_hub(source: HubSource) -> dict[Split, Dataset]:
    """The hub dataset's rows per split, in this project's schema."""
    loaded = _load_hub(source.hub_id, source.revision)
    if source.split is None:
        return loaded
    from datasets import concatenate_datasets

    return {source.split: concatenate_datasets(list(loaded.values()))}


def _verify_btc(folder: Path) -> None:
    for name, expected in BTC_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"BTC section file missing: {path}")
        actual = sha256_file(path)
        if actual != expected:
            raise ValueError(
                f"{path}: SHA-256 {actual} does not match the pinned upstream file "
                f"({expected}); this is not the Broad Twitter Corpus at commit {BTC_COMMIT[:12]}"
            )


def _download_btc(folder: Path) -> Path:
    """Fetch the six section files from the pinned upstream commit (online users only)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, expected in BTC_SHA256.items():
        target = folder / name
        if target.is_file() and sha256_file(target) == expected:
            continue
        url = BTC_URL.format(commit=BTC_COMMIT, name=name)
        logger.info("downloading %s", url)
        partial = target.with_suffix(".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                partial.write_bytes(response.read())
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ConnectionError(
                f"cannot download {url} ({exc}); offline, point --data-dir or ${BTC_DIR_ENV} "
                "at a local copy of the six section files"
            ) from exc
        partial.replace(target)
    return folder


#: The file names a CoNLL folder's splits may have (docs/how-to/data.md).
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "dev", "valid"), "test": ("test",)}
CONLL_SUFFIXES = (".conll", ".txt", ".tsv", ".bio")


def _split_file(folder: Path, split: str, required: bool = True) -> Path | None:
    """The one documented file of `split` in `folder`; several, or none if required, is an error."""
    names = [f"{stem}{suffix}" for stem in SPLIT_STEMS[split] for suffix in CONLL_SUFFIXES]
    # lexists: a folder, a broken link or a link loop under a split's name is that split's
    # file, refused by the reader for what it is rather than reported missing.
    found = [folder / name for name in names if os.path.lexists(folder / name)]
    if not found and not required:
        return None
    if not found:
        raise FileNotFoundError(
            f"{folder}: no CoNLL file for split {split!r} (expected one of {', '.join(names)})"
        )
    if len(found) > 1:
        raise ValueError(
            f"{folder}: several files for split {split!r} "
            f"({', '.join(p.name for p in found)}): keep one"
        )
    return found[0]


def _load_hub(source: str, revision: str | None) -> dict[Split, Dataset]:
    """A hub dataset (or local folder) with tokens and ner_tags: ClassLabel ids (by name),
    tag strings, or bare ids in BTC order."""
    from datasets import load_dataset

    loaded = load_dataset(source, revision=revision)
    if not isinstance(loaded, DatasetDict):
        raise TypeError(f"{source}: expected a dataset with splits, got {type(loaded).__name__}")
    aliases = {"validation": ("validation", "dev", "valid")}
    out: dict[Split, Dataset] = {}
    for split in SPLITS:
        found = next((n for n in aliases.get(split, (split,)) if n in loaded), None)
        if found is None:
            raise ValueError(f"{source}: no {split!r} split (has {', '.join(loaded)})")
        ds = loaded[found]
        for column in ("tokens", "ner_tags"):
            if column not in ds.column_names:
                raise ValueError(f"{source}/{found}: no {column!r} column")
        names = getattr(getattr(ds.features["ner_tags"], "feature", None), "names", None)
        tags = []
        for row, row_tags in enumerate(ds["ner_tags"]):
            named = [
                names[t] if names else t if isinstance(t, str) else _btc_name(t) for t in row_tags
            ]
            unknown = [t for t in named if t not in LABELS]
            if unknown:
                raise ValueError(f"{source}/{found} row {row}: unknown tag {unknown[0]!r}")
            tags.append([LABELS.index(t) for t in named])
        ids = ds["id"] if "id" in ds.column_names else range(len(ds))
        out[split] = Dataset.from_dict(
            {"id": [str(i) for i in ids], "tokens": ds["tokens"], "ner_tags": tags},
            features=features(),
        )
    return out


def _btc_name(index: int) -> str:
    return LABELS[index] if 0 <= index < len(LABELS) else f"<id {index}>"
