"""Re-tokenize word-level NER data into sub-words, re-aligning the word labels."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast, get_args

from datasets import DatasetDict, load_from_disk

from nerflow.config import DataConfig, MentionConvention
from nerflow.corpus.labels import LABELS
from nerflow.corpus.manifest import read_manifest

logger = logging.getLogger(__name__)

#: Label index that PyTorch's cross-entropy (and so the Trainer's loss) ignores.
IGNORE = -100
STATS = "stats.json"
#: The @-mention convention of the training tags, for the model to carry (config.json).
MENTIONS = "mention_convention.txt"


def align_labels(
    word_ids: list[int | None], word_labels: list[int], label_all_subwords: bool = False
) -> list[int]:
    """Each sub-word's training label: the word's on its first sub-word, else -100."""
    # -100 (IGNORE) is what the loss skips: special tokens and continuations, so each word is
    # trained and scored once, as in the corpus. `label_all_subwords` labels continuations
    # too, B-X as I-X, so that a word never opens two entities.
    aligned: list[int] = []
    previous: int | None = None
    for word_id in word_ids:
        if word_id is None:
            aligned.append(IGNORE)
        elif word_id >= len(word_labels):
            raise IndexError(f"word id {word_id} out of range for {len(word_labels)} labels")
        elif word_id != previous:
            aligned.append(word_labels[word_id])
        elif label_all_subwords:
            name = LABELS[word_labels[word_id]]
            aligned.append(
                LABELS.index("I-" + name[2:]) if name.startswith("B-") else word_labels[word_id]
            )
        else:
            aligned.append(IGNORE)
        previous = word_id
    return aligned


def tokenize_corpus(dataset_dir: Path, tokenizer: Any, data: DataConfig, out: Path) -> None:
    """Tokenize every split without padding (the collator pads per batch); save it in `out`."""
    raw: DatasetDict = load_from_disk(str(dataset_dir / "dataset"))
    stats: dict[str, dict[str, int]] = {}
    splits = {}
    for split, ds in raw.items():
        # Validation and test stay first-sub-word labelled whatever the option: they are
        # scored per word, once each.
        all_subwords = data.label_all_subwords and split == "train"
        encoded = encode_split(tokenizer, ds, data.max_length, all_subwords, f"tokenize {split}")
        truncated = _count_truncated(tokenizer, ds, encoded, data.max_length)
        stats[split] = {
            "tweets": len(encoded),
            "subwords": int(sum(encoded["length"])),
            "truncated": truncated,
        }
        splits[split] = encoded
        if truncated:
            logger.warning(
                "%s: %d of %d tweets truncated at %d sub-words",
                split, truncated, len(encoded), data.max_length,
            )  # fmt: skip
    DatasetDict(splits).save_to_disk(str(out / "dataset"))
    tokenizer.save_pretrained(str(out / "tokenizer"))
    (out / STATS).write_text(json.dumps(stats, indent=2), encoding="utf-8")
    (out / MENTIONS).write_text(read_manifest(dataset_dir).mention_convention, encoding="utf-8")


def encode_split(
    tokenizer: Any, ds: Any, max_length: int, all_subwords: bool = False, desc: str | None = None
) -> Any:
    """Sub-word ids, aligned labels and lengths for a split of words and word tags, unpadded."""

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        encoded = tokenizer(
            batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
        )
        encoded["labels"] = [
            align_labels(encoded.word_ids(i), tags, all_subwords)
            for i, tags in enumerate(batch["ner_tags"])
        ]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return dict(encoded)

    # In memory: a cache file would be written beside the input, inside a folder that
    # another step published and must not change.
    return ds.map(
        encode, batched=True, remove_columns=ds.column_names, desc=desc, keep_in_memory=True
    )


def _count_truncated(tokenizer: Any, raw: Any, encoded: Any, max_length: int) -> int:
    # Only sequences that hit the limit can have lost words: re-encode just those in full.
    at_limit = [i for i, n in enumerate(encoded["length"]) if n >= max_length]
    if not at_limit:
        return 0
    full = tokenizer([raw[i]["tokens"] for i in at_limit], is_split_into_words=True)
    return sum(len(ids) > max_length for ids in full["input_ids"])


def read_convention(tokenized_dir: Path) -> MentionConvention:
    """The @-mention convention the tokenized training tags follow."""
    value = (tokenized_dir / MENTIONS).read_text(encoding="utf-8").strip()
    if value not in get_args(MentionConvention):
        raise ValueError(f"{tokenized_dir / MENTIONS}: unknown @-mention convention {value!r}")
    return cast(MentionConvention, value)


def read_stats(tokenized_dir: Path) -> dict[str, dict[str, int]]:
    """Per-split counts written by `tokenize_corpus`: tweets, sub-words, truncated tweets."""
    return json.loads((tokenized_dir / STATS).read_text(encoding="utf-8"))
