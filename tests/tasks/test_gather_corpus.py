import shutil
from pathlib import Path

import pytest
from datasets import load_from_disk
from nerflow.tasks.gather_corpus import gather_corpus

from nerflow.config import DataConfig
from nerflow.corpus.conll import ConllFormatError
from nerflow.corpus.labels import LABELS
from nerflow.corpus.manifest import read_manifest
from nerflow.corpus.sources import BTC_SHA256
from tests.conftest import CONLL_DIR


def test_local_conll_folder_becomes_a_dataset_with_class_labels(tmp_path: Path) -> None:
    out = gather_corpus(DataConfig(source="conll", local_dir=CONLL_DIR), tmp_path)
    splits = load_from_disk(str(out / "dataset"))
    assert {k: len(v) for k, v in splits.items()} == {"train": 10, "validation": 4, "test": 4}
    assert splits["train"].features["ner_tags"].feature.names == [
        "O",
        "B-PER",
        "I-PER",
        "B-ORG",
        "I-ORG",
        "B-LOC",
        "I-LOC",
    ]
    first = splits["train"][0]
    assert first["id"] == "train:1"
    assert first["ner_tags"][:2] == [0, 1]
    manifest = read_manifest(out)
    assert manifest.splits["train"] == 10
    assert [(e.split, e.name, e.tweets) for e in manifest.sources] == [
        ("train", "train.conll", 10),
        ("validation", "validation.conll", 4),
        ("test", "test.conll", 4),
    ]


def test_changed_content_gives_a_new_fingerprint(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    first = gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")
    with (corpus / "test.conll").open("a", encoding="utf-8") as handle:
        handle.write("\nParis\tB-LOC\n")
    second = gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")
    assert first != second
    assert read_manifest(second).splits["test"] == 5


def test_a_malformed_file_fails_without_leaving_a_dataset(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    (corpus / "validation.conll").write_text("Paris\tB-CITY\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"validation\.conll:1: unknown tag 'B-CITY'"):
        gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")
    assert not (tmp_path / "work" / "datasets").exists() or not any(
        (tmp_path / "work" / "datasets").iterdir()
    )


def test_a_missing_split_file_is_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    (corpus / "test.conll").unlink()
    with pytest.raises(FileNotFoundError, match="no CoNLL file for split 'test'"):
        gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")


def test_btc_copy_with_a_wrong_checksum_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "btc"
    corpus.mkdir()
    for name in BTC_SHA256:
        (corpus / name).write_text("Paris\tB-LOC\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.conll: SHA-256 [0-9a-f]{64} does not match"):
        gather_corpus(DataConfig(local_dir=corpus), tmp_path / "work")


def test_btc_copy_missing_a_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"BTC section file missing: .*a\.conll"):
        gather_corpus(DataConfig(local_dir=tmp_path), tmp_path / "work")


@pytest.mark.slow
def test_real_corpus_splits_match_the_published_definition(tmp_path: Path, btc_dir: Path) -> None:
    out = gather_corpus(DataConfig(local_dir=btc_dir), tmp_path)
    manifest = read_manifest(out)
    assert manifest.splits == {"train": 5338, "validation": 2001, "test": 2001}
    assert manifest.btc_commit.startswith("0c45ef7b")
    splits = load_from_disk(str(out / "dataset"))
    # the empty-token quirk is kept as a word (scored O), not dropped or fatal
    assert any("" in tokens for tokens in splits["validation"]["tokens"])


def test_hub_source_reads_any_load_dataset_folder_with_tag_names(tmp_path: Path) -> None:
    # `load_dataset` on a local folder exercises the same code path as a hub id, offline
    import json as jsonlib

    folder = tmp_path / "hubdata"
    folder.mkdir()
    rows = {
        "train": [{"tokens": ["Tim", "Cook"], "ner_tags": ["B-PER", "I-PER"]}],
        "validation": [{"tokens": ["Paris"], "ner_tags": ["B-LOC"]}],
        "test": [{"tokens": ["BBC", "news"], "ner_tags": ["B-ORG", "O"]}],
    }
    for split, items in rows.items():
        lines = "\n".join(jsonlib.dumps(item) for item in items)
        (folder / f"{split}.jsonl").write_text(lines + "\n", encoding="utf-8")
    out = gather_corpus(DataConfig(source="hub", hub_id=str(folder)), tmp_path / "work")
    splits = load_from_disk(str(out / "dataset"))
    assert splits["train"][0]["ner_tags"] == [1, 2]
    assert splits["test"][0]["ner_tags"] == [3, 0]
    assert read_manifest(out).source == "hub"


def test_a_local_hub_folder_is_keyed_by_its_content_not_its_name(tmp_path: Path) -> None:
    from nerflow.cache import stable_value

    folder = tmp_path / "hubdata"
    folder.mkdir()

    def write(tag: str) -> None:
        for split in ("train", "validation", "test"):
            (folder / f"{split}.jsonl").write_text(
                f'{{"tokens": ["Paris"], "ner_tags": ["{tag}"]}}\n', encoding="utf-8"
            )

    data = DataConfig(source="hub", hub_id=str(folder))
    write("B-LOC")
    first, key = gather_corpus(data, tmp_path / "work"), stable_value(data)
    write("B-ORG")  # the same folder name, edited files: a stale cache would keep B-LOC
    second = gather_corpus(data, tmp_path / "work")
    assert second != first and stable_value(data) != key
    assert load_from_disk(str(second / "dataset"))["train"][0]["ner_tags"] == [
        LABELS.index("B-ORG")
    ]


def test_hub_source_rejects_unknown_tags(tmp_path: Path) -> None:
    folder = tmp_path / "hubdata"
    folder.mkdir()
    for split in ("train", "validation", "test"):
        (folder / f"{split}.jsonl").write_text(
            '{"tokens": ["x"], "ner_tags": ["B-MISC"]}\n', encoding="utf-8"
        )
    with pytest.raises(ValueError, match="train row 0: unknown tag 'B-MISC'"):
        gather_corpus(DataConfig(source="hub", hub_id=str(folder)), tmp_path / "work")


def test_a_truncated_file_and_an_empty_split_are_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    text = (corpus / "train.conll").read_text(encoding="utf-8")
    (corpus / "train.conll").write_text(text[: text.index("B-LOC") + 2], encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"train\.conll:7: unknown tag 'B-'"):
        gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")
    (corpus / "train.conll").write_text(text, encoding="utf-8")
    (corpus / "test.conll").write_text("-DOCSTART-\tO\n\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"test\.conll: no tokens found"):
        gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")


def test_only_the_documented_split_files_are_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    (corpus / "train.bak").write_text("Paris\tB-LOC\n", encoding="utf-8")  # a stray backup
    out = gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")
    assert read_manifest(out).splits["train"] == 10  # train.conll, not train.bak


def test_a_folder_with_two_files_for_one_split_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    shutil.copy(corpus / "train.conll", corpus / "train.txt")
    with pytest.raises(
        ValueError, match=r"several files for split 'train' \(train.conll, train.txt\)"
    ):
        gather_corpus(DataConfig(source="conll", local_dir=corpus), tmp_path / "work")


def test_a_crlf_and_bom_copy_of_the_corpus_is_the_same_data(tmp_path: Path) -> None:
    windows = tmp_path / "windows"
    windows.mkdir()
    for path in CONLL_DIR.glob("*.conll"):
        text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
        (windows / path.name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    original = gather_corpus(DataConfig(source="conll", local_dir=CONLL_DIR), tmp_path / "w")
    copy = gather_corpus(DataConfig(source="conll", local_dir=windows), tmp_path / "w")
    assert copy == original
    changed = tmp_path / "changed"
    shutil.copytree(CONLL_DIR, changed)
    with (changed / "train.conll").open("a", encoding="utf-8") as handle:
        handle.write("\nRome\tB-LOC\n")
    assert gather_corpus(DataConfig(source="conll", local_dir=changed), tmp_path / "w") != original


def test_incoming_files_join_training_and_the_manifest_records_each_file(
    tmp_path: Path,
) -> None:
    from nerflow.corpus.incoming import ingest

    incoming = tmp_path / "incoming"
    data = DataConfig(source="conll", local_dir=CONLL_DIR, incoming_dir=incoming)
    before = gather_corpus(data, tmp_path / "work")
    assert gather_corpus(data, tmp_path / "work") == before  # no new file: the same data
    new = tmp_path / "new.conll"
    new.write_text("Angela\tB-PER\nMerkel\tI-PER\nin\tO\nOslo\tB-LOC\n", encoding="utf-8")
    [ingested] = ingest([new], incoming)
    after = gather_corpus(data, tmp_path / "work")
    assert after != before
    manifest = read_manifest(after)
    assert manifest.splits == {"train": 11, "validation": 4, "test": 4}
    entry = manifest.sources[-1]
    assert (entry.split, entry.origin, entry.name) == (
        "train",
        "incoming",
        ingested.target.name,
    )
    assert entry.tweets == 1 and entry.entities == {"PER": 1, "ORG": 0, "LOC": 1}
    assert len(entry.sha256) == 64 and ingested.target.name[-18:-6] == entry.content_sha256[:12]
    # validation and test did not change: what evaluation reads keeps its fingerprint
    old = read_manifest(before).split_fingerprints
    assert manifest.split_fingerprints["validation"] == old["validation"]
    assert manifest.split_fingerprints["train"] != old["train"]
    assert manifest.description == f"conll {CONLL_DIR.name} + 1 incoming, @ mention-o"


def test_a_malformed_file_dropped_in_by_hand_stops_the_step_naming_it(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "by-hand.conll").write_text("Paris\tB-LOC\nRome\tLOC\n", encoding="utf-8")
    data = DataConfig(source="conll", local_dir=CONLL_DIR, incoming_dir=incoming)
    with pytest.raises(ConllFormatError, match=r"by-hand\.conll:2: unknown tag 'LOC'"):
        gather_corpus(data, tmp_path / "work")
    assert not (tmp_path / "work" / "datasets").exists()


def test_extra_sources_go_to_their_split_and_a_repeated_file_counts_once(tmp_path: Path) -> None:
    from nerflow.config import ExtraSource

    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "one.conll").write_text("Oslo\tB-LOC\n", encoding="utf-8")
    (extra / "two.txt").write_text("NASA\tB-ORG\n\nBBC\tB-ORG\n", encoding="utf-8")
    own = tmp_path / "own"
    own.mkdir()
    (own / "dev.conll").write_text("Lima\tB-LOC\n", encoding="utf-8")
    data = DataConfig(
        source="conll",
        local_dir=CONLL_DIR,
        incoming_dir=None,
        extra=(
            ExtraSource(path=extra),
            ExtraSource(path=own, split="own"),
            ExtraSource(path=CONLL_DIR / "test.conll", split="test"),  # already the test split
        ),
    )
    manifest = read_manifest(gather_corpus(data, tmp_path / "work"))
    assert manifest.splits == {"train": 13, "validation": 5, "test": 4}
    assert [(e.split, e.name) for e in manifest.sources if e.origin == "extra"] == [
        ("train", "one.conll"),
        ("train", "two.txt"),
        ("validation", "dev.conll"),
    ]


@pytest.mark.slow
def test_btc_training_sections_can_be_chosen_and_evaluation_splits_stay(
    tmp_path: Path, btc_dir: Path
) -> None:
    data = DataConfig(local_dir=btc_dir, btc_train_sections=("a",), incoming_dir=None)
    manifest = read_manifest(gather_corpus(data, tmp_path))
    assert manifest.splits == {"train": 1000, "validation": 2001, "test": 2001}
    assert [(e.split, e.name) for e in manifest.sources] == [
        ("train", "a.conll"),
        ("validation", "h.conll"),
        ("test", "f.conll"),
    ]
    assert manifest.description == "btc a, @ mention-o"
