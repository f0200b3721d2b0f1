"""NER corpora (BTC, a hub dataset, or local CoNLL files) as one DatasetDict schema."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.request
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from nerflow.config import BTC_DIR_ENV, DataConfig, btc_dir_from_env
from nerflow.corpus.conll import Sentence, read_conll
from nerflow.corpus.labels import LABELS
from nerflow.outputs import content_key, sha256_file

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
SPLITS = ("train", "validation", "test")
#: Manifest written beside the saved dataset: source, file checksums, split sizes.
MANIFEST = "manifest.json"


def features() -> Features:
    """The schema every source is converted to."""
    return Features(
        {
            "id": Value("string"),
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=list(LABELS))),
        }
    )


def source_files(data: DataConfig, work_dir: Path) -> dict[str, list[Path]]:
    """The files each split is read from (downloading the pinned BTC files if need be)."""
    if data.source == "btc":
        folder = data.local_dir or btc_dir_from_env()
        if folder is None:
            folder = _download_btc(work_dir / "raw" / f"btc-{BTC_COMMIT[:12]}")
        _verify_btc(folder)
        return {split: [folder / name for name in names] for split, names in BTC_SPLITS.items()}
    if data.source == "conll":
        assert data.local_dir is not None
        return {split: [_find_split_file(data.local_dir, split)] for split in SPLITS}
    return {}


def file_checksums(files: dict[str, list[Path]]) -> dict[str, str]:
    """`split/name: SHA-256` of every source file's bytes (the manifest's provenance)."""
    return {
        f"{split}/{path.name}": sha256_file(path)
        for split, split_files in files.items()
        for path in split_files
    }


def content_checksums(files: dict[str, list[Path]]) -> dict[str, str]:
    """`split/name: SHA-256` of what the reader reads from each file (words and tags).

    The data version: a copy with CRLF line ends or a byte-order mark reads the same, so
    it is the same data and trains nothing new.
    """
    checksums = {}
    for split, split_files in files.items():
        for path in split_files:
            read = [[s.tokens, s.tags] for s in read_conll(path)]
            payload = json.dumps(read, ensure_ascii=False, separators=(",", ":"))
            checksums[f"{split}/{path.name}"] = hashlib.sha256(payload.encode()).hexdigest()
    return checksums


def data_fingerprint(data: DataConfig, checksums: dict[str, str]) -> str:
    """The data version: source, hub id (a local folder by its content), revision, files."""
    hub = data.cache_identity()["hub_id"]
    return content_key(data.source, hub, data.hub_revision, checksums)


def write_corpus(
    data: DataConfig, files: dict[str, list[Path]], checksums: dict[str, str], out: Path
) -> None:
    """Read the corpus and save it as a DatasetDict with its manifest in `out`.

    `checksums` are the files' `content_checksums`: the data version.
    """
    if data.source == "hub":
        dataset = _load_hub(data)
    else:
        dataset = DatasetDict({split: _to_dataset(split, paths) for split, paths in files.items()})
    for split in SPLITS:
        if split not in dataset or len(dataset[split]) == 0:
            raise ValueError(f"{data.source} corpus: split {split!r} is empty or missing")
    manifest = {
        "source": data.source,
        "hub_id": data.hub_id,
        "btc_commit": BTC_COMMIT if data.source == "btc" else None,
        "files_sha256": file_checksums(files),
        "splits": {split: len(dataset[split]) for split in SPLITS},
        "fingerprint": data_fingerprint(data, checksums),
    }
    dataset.save_to_disk(str(out / "dataset"))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    logger.info("dataset %s: %s", manifest["fingerprint"], manifest["splits"])


def read_manifest(dataset_dir: Path) -> dict:
    """The manifest of a dataset folder written by `download_dataset`."""
    return json.loads((dataset_dir / MANIFEST).read_text(encoding="utf-8"))


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


#: The file names a CoNLL folder's splits may have (README, "The corpus").
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "dev", "valid"), "test": ("test",)}
CONLL_SUFFIXES = (".conll", ".txt", ".tsv", ".bio")


def _find_split_file(folder: Path, split: str) -> Path:
    """The one documented file of `split` in `folder`; none or several is an error."""
    names = [f"{stem}{suffix}" for stem in SPLIT_STEMS[split] for suffix in CONLL_SUFFIXES]
    found = [folder / name for name in names if (folder / name).is_file()]
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


def _to_dataset(split: str, paths: list[Path]) -> Dataset:
    sentences: list[tuple[str, Sentence]] = [
        (f"{path.stem}:{sentence.line}", sentence)
        for path in paths
        for sentence in read_conll(path)
    ]
    return Dataset.from_dict(
        {
            "id": [sid for sid, _ in sentences],
            "tokens": [s.tokens for _, s in sentences],
            "ner_tags": [[LABELS.index(t) for t in s.tags] for _, s in sentences],
        },
        features=features(),
    )


def _load_hub(data: DataConfig) -> DatasetDict:
    """A hub dataset (or a local folder `load_dataset` reads) with tokens and ner_tags.

    Tags may be ClassLabel ids (mapped by name), tag strings, or bare ids in BTC order.
    """
    from datasets import load_dataset

    source = str(data.hub_id)
    loaded = load_dataset(source, revision=data.hub_revision)
    if not isinstance(loaded, DatasetDict):
        raise TypeError(f"{source}: expected a dataset with splits, got {type(loaded).__name__}")
    aliases = {"validation": ("validation", "dev", "valid")}
    out = {}
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
    return DatasetDict(out)


def _btc_name(index: int) -> str:
    return LABELS[index] if 0 <= index < len(LABELS) else f"<id {index}>"
