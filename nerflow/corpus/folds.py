"""k folds of the training tweets: each fold held out of a dataset the training steps take."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key

#: Four folds: each model trains on 3/4 of the tweets, close to what the real model sees, so
#: its probabilities are about as sharp; and the ranking costs four trainings, not ten.
DEFAULT_FOLDS = 4
#: A fold's folder holds its training data (`dataset`, `manifest.json`) and these tweets.
HELD_OUT = "heldout"


def assign_folds(sources: list[str], folds: int, seed: int) -> list[int]:
    """Each tweet's fold: shuffled with `seed` within its source, then dealt round-robin, so
    every fold holds about 1/`folds` of every source."""
    import numpy as np

    if not 2 <= folds <= len(sources):
        raise ValueError(f"folds: {folds} for {len(sources)} tweets; give 2 to {len(sources)}")
    out = [0] * len(sources)
    generator = np.random.default_rng(seed)
    for source in sorted(set(sources)):
        members = [i for i, s in enumerate(sources) if s == source]
        for rank, i in enumerate(generator.permutation(members)):
            out[int(i)] = rank % folds
    return out


def write_fold(dataset_dir: Path, fold: int, folds: int, seed: int, out: Path) -> None:
    """A dataset folder whose training split lacks fold `fold` of `folds` (validation and test
    as they are), and that fold's tweets, held out, in `out/heldout`."""
    from datasets import load_from_disk

    from nerflow.corpus.assemble import data_fingerprint
    from nerflow.corpus.manifest import MANIFEST, read_manifest

    dataset = load_from_disk(str(dataset_dir / "dataset"))
    train = dataset["train"]
    assigned = assign_folds([tweet_origin(i)[0] for i in train["id"]], folds, seed)
    dataset["train"] = train.select([i for i, f in enumerate(assigned) if f != fold])
    train.select([i for i, f in enumerate(assigned) if f == fold]).save_to_disk(str(out / HELD_OUT))
    dataset.save_to_disk(str(out / "dataset"))
    manifest = read_manifest(dataset_dir)
    # Its own data version: what the training split holds is no longer the corpus's.
    fingerprints = {
        **manifest.split_fingerprints,
        "train": content_key(manifest.split_fingerprints["train"], fold, folds, seed),
    }
    changed = manifest.model_copy(
        update={
            "description": f"{manifest.description}, fold {fold + 1}/{folds} held out",
            "splits": {**manifest.splits, "train": len(dataset["train"])},
            "split_fingerprints": fingerprints,
            "fingerprint": data_fingerprint(fingerprints),
        }
    )
    (out / MANIFEST).write_text(changed.model_dump_json(indent=2), encoding="utf-8")


def tweet_origin(tweet_id: str) -> tuple[str, int]:
    """Where a tweet comes from, by its dataset id: a file tweet's `stem:line` as (stem, line),
    a hub row's id as ("", 0)."""
    stem, _, line = tweet_id.rpartition(":")
    return (stem, int(line)) if stem and line.isdigit() else ("", 0)
