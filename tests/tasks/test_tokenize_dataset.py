from pathlib import Path

import pytest
from datasets import load_from_disk
from nerflow.tasks.gather_corpus import gather_corpus
from nerflow.tasks.tokenize_dataset import tokenize_dataset

from nerflow.config import DataConfig, ModelConfig
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import IGNORE, align_labels, read_stats
from tests.conftest import CONLL_DIR

B_PER, I_PER, OUT = LABELS.index("B-PER"), LABELS.index("I-PER"), LABELS.index("O")


def test_first_subword_carries_the_label_and_the_rest_are_ignored() -> None:
    # [CLS] w0 w0 w1 [SEP]: word 0 split in two sub-words
    assert align_labels([None, 0, 0, 1, None], [B_PER, OUT]) == [IGNORE, B_PER, IGNORE, OUT, IGNORE]


def test_all_subwords_option_continues_the_entity_with_i_tags() -> None:
    aligned = align_labels([None, 0, 0, 1, 1, None], [B_PER, I_PER], label_all_subwords=True)
    assert aligned == [IGNORE, B_PER, I_PER, I_PER, I_PER, IGNORE]


def test_words_without_subwords_get_no_label() -> None:
    # word 1 (an empty token) produced no sub-word: nothing to train on, nothing misaligned
    assert align_labels([None, 0, 2, None], [B_PER, OUT, OUT]) == [IGNORE, B_PER, OUT, IGNORE]


def test_a_word_id_beyond_the_labels_is_an_error() -> None:
    with pytest.raises(IndexError, match="word id 3 out of range for 2 labels"):
        align_labels([None, 0, 3], [OUT, OUT])


def test_tokenizes_without_padding_and_reports_truncation(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = DataConfig(source="conll", local_dir=CONLL_DIR, max_length=8)
    dataset_dir = gather_corpus(data, tmp_path)
    out = tokenize_dataset(dataset_dir, ModelConfig(base_model=str(tiny_model_dir)), data, tmp_path)
    splits = load_from_disk(str(out / "dataset"))
    lengths = [len(ids) for ids in splits["train"]["input_ids"]]
    assert max(lengths) == 8 and min(lengths) < 8  # truncated, and not padded to the max
    stats = read_stats(out)
    assert stats["train"]["tweets"] == 10
    assert 0 < stats["train"]["truncated"] < 10
    assert all(
        len(ids) == len(labels)
        for ids, labels in zip(splits["test"]["input_ids"], splits["test"]["labels"], strict=True)
    )


def test_same_inputs_reuse_the_finished_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = DataConfig(source="conll", local_dir=CONLL_DIR)
    dataset_dir = gather_corpus(data, tmp_path)
    model = ModelConfig(base_model=str(tiny_model_dir))
    first = tokenize_dataset(dataset_dir, model, data, tmp_path)
    stamp = (first / "stats.json").stat().st_mtime_ns
    assert tokenize_dataset(dataset_dir, model, data, tmp_path) == first
    assert (first / "stats.json").stat().st_mtime_ns == stamp
    other = tokenize_dataset(
        dataset_dir, model, data.model_copy(update={"max_length": 16}), tmp_path
    )
    assert other != first


def test_a_missing_base_model_is_a_clear_error(tmp_path: Path) -> None:
    data = DataConfig(source="conll", local_dir=CONLL_DIR)
    dataset_dir = gather_corpus(data, tmp_path)
    with pytest.raises(ValueError, match="base model '/no/such/model'"):
        tokenize_dataset(dataset_dir, ModelConfig(base_model="/no/such/model"), data, tmp_path)


def test_tokenizing_leaves_the_published_dataset_folder_as_it_was(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = DataConfig(source="conll", local_dir=CONLL_DIR)
    dataset_dir = gather_corpus(data, tmp_path)
    before = sorted(p.relative_to(dataset_dir) for p in dataset_dir.rglob("*"))
    tokenize_dataset(dataset_dir, ModelConfig(base_model=str(tiny_model_dir)), data, tmp_path)
    assert sorted(p.relative_to(dataset_dir) for p in dataset_dir.rglob("*")) == before
