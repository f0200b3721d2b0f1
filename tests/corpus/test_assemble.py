import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from nerflow.config import DataConfig, ExtraSource
from nerflow.corpus.assemble import (
    collect_sources,
    data_fingerprint,
    read_sources,
    split_fingerprints,
    write_dataset,
)
from nerflow.corpus.conll import ConllFormatError
from nerflow.corpus.consistency import read_conventions
from nerflow.corpus.manifest import read_manifest
from tests.conftest import CONLL_DIR


def corpus(root: Path, normal_form: str = "NFC") -> DataConfig:
    """The fixture corpus as a CoNLL folder, its text in `normal_form`."""
    root.mkdir()
    for path in CONLL_DIR.glob("*.conll"):
        text = path.read_text(encoding="utf-8") + "Zürich\tB-LOC\nMüller\tB-PER\n"
        (root / path.name).write_text(unicodedata.normalize(normal_form, text), encoding="utf-8")
    return DataConfig(source="conll", local_dir=root, incoming_dir=None)


def version(data: DataConfig, work: Path) -> str:
    return data_fingerprint(
        split_fingerprints(read_sources(collect_sources(data, work)), data.mention_convention)
    )


def test_a_decomposed_copy_of_a_corpus_is_the_same_data_version(tmp_path: Path) -> None:
    composed = version(corpus(tmp_path / "nfc"), tmp_path / "work")
    assert version(corpus(tmp_path / "nfd", "NFD"), tmp_path / "work") == composed


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path.mkdir(), "is a folder, not a CoNLL file"),
        (lambda path: path.symlink_to(path), "cannot be read: Too many levels of symbolic links"),
    ],
)
def test_a_split_file_that_is_not_a_file_is_named_for_what_it_is(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    data = corpus(tmp_path / "corpus")
    train = tmp_path / "corpus" / "train.conll"
    train.unlink()
    make(train)
    with pytest.raises(ConllFormatError, match=f"train.conll: {message}"):
        read_sources(collect_sources(data, tmp_path / "work"))


def test_an_extra_source_that_is_a_link_loop_is_named_as_such(tmp_path: Path) -> None:
    loop = tmp_path / "more.conll"
    loop.symlink_to(loop)
    data = corpus(tmp_path / "corpus").model_copy(update={"extra": (ExtraSource(path=loop),)})
    with pytest.raises(ConllFormatError, match=r"more\.conll: cannot be read: Too many levels"):
        read_sources(collect_sources(data, tmp_path / "work"))


@pytest.mark.parametrize("split", ["train", "validation"])
def test_a_split_without_one_entity_stops_at_the_data_step(tmp_path: Path, split: str) -> None:
    data = corpus(tmp_path / "corpus")
    path = tmp_path / "corpus" / f"{split}.conll"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(f"{line.split()[0]}\tO\n" if line.strip() else "\n" for line in lines))
    read = read_sources(collect_sources(data, tmp_path / "work"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=f"the {split} split .* has not one entity"):
        write_dataset(data, read, out)
    assert list(out.iterdir()) == []


def test_a_hub_split_tagged_iob1_counts_its_entities(tmp_path: Path) -> None:
    folder = tmp_path / "hub"
    folder.mkdir()
    row = '{"tokens": ["Tim", "Cook", "in", "Paris"], "ner_tags": ["I-PER", "I-PER", "O", "I-LOC"]}'
    for split in ("train", "validation", "test"):
        (folder / f"{split}.jsonl").write_text(row + "\n", encoding="utf-8")
    data = DataConfig(source="hub", hub_id=str(folder), incoming_dir=None)
    out = tmp_path / "out"
    out.mkdir()
    write_dataset(data, read_sources(collect_sources(data, tmp_path / "work")), out)
    [train, *_] = read_manifest(out).sources
    assert train.entities == {"PER": 1, "ORG": 0, "LOC": 1}
    # The consistency report counts CoNLL files; a hub source is named as left out.
    assert read_conventions(out).skipped == ["hub: a hub dataset; the report counts CoNLL files"]
