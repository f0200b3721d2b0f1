import shutil
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nerflow.corpus.conll import ConllFormatError
from nerflow.corpus.incoming import incoming_files, ingest
from tests.conftest import CONLL_DIR

NEW = "Angela\tB-PER\nMerkel\tI-PER\nvisits\tO\nOslo\tB-LOC\n\nGo\tO\nNASA\tB-ORG\n"


def test_ingest_copies_a_valid_file_under_its_content_name(tmp_path: Path) -> None:
    source = tmp_path / "new tweets.conll"
    source.write_text(NEW, encoding="utf-8")
    incoming = tmp_path / "incoming"
    [done] = ingest([source], incoming)
    assert done.added and done.tweets == 2
    assert done.target.parent == incoming
    assert done.target.name.startswith("new_tweets-") and done.target.suffix == ".conll"
    assert done.target.read_text(encoding="utf-8") == NEW
    assert source.is_file()  # the user's file is left where it was
    assert incoming_files(incoming) == [done.target]


def test_the_same_tweets_again_are_a_no_op_even_with_crlf_and_another_name(
    tmp_path: Path,
) -> None:
    first = tmp_path / "a.conll"
    first.write_text(NEW, encoding="utf-8")
    again = tmp_path / "renamed.txt"
    again.write_bytes(NEW.replace("\n", "\r\n").encode())
    incoming = tmp_path / "incoming"
    [one] = ingest([first], incoming)
    [two] = ingest([again], incoming)
    assert not two.added and two.target == one.target
    assert incoming_files(incoming) == [one.target]


def test_a_bad_file_is_refused_with_file_and_line_and_nothing_is_copied(tmp_path: Path) -> None:
    good = tmp_path / "good.conll"
    good.write_text(NEW, encoding="utf-8")
    bad = tmp_path / "bad.conll"
    bad.write_text("Paris\tB-LOC\nLondon\tB-CITY\n", encoding="utf-8")
    incoming = tmp_path / "incoming"
    with pytest.raises(ConllFormatError, match=r"bad\.conll:2: unknown tag 'B-CITY'"):
        ingest([good, bad], incoming)
    assert incoming_files(incoming) == []


def test_the_incoming_folder_refuses_what_it_cannot_train_on(tmp_path: Path) -> None:
    assert incoming_files(tmp_path / "missing") == [] and incoming_files(None) == []
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / ".copy-in-progress.part").write_text("x", encoding="utf-8")
    (incoming / "train.conll").write_bytes((CONLL_DIR / "train.conll").read_bytes())
    assert [p.name for p in incoming_files(incoming)] == ["train.conll"]
    (incoming / "notes.md").write_text("todo", encoding="utf-8")
    with pytest.raises(ValueError, match=r"notes\.md: not a CoNLL file"):
        incoming_files(incoming)


def test_the_same_tweets_ingested_at_once_under_many_names_are_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [tmp_path / f"copy{i}.conll" for i in range(8)]
    for name in names:
        name.write_text(NEW, encoding="utf-8")
    incoming = tmp_path / "incoming"
    copy = shutil.copyfile

    def slow_copy(source: Path, target: Path) -> object:
        time.sleep(0.2)  # a big file: the others have long checked the folder by now
        return copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", slow_copy)
    with ThreadPoolExecutor(len(names)) as pool:
        done = [
            item for batch in pool.map(lambda p: ingest([p], incoming), names) for item in batch
        ]
    [stored] = incoming_files(incoming)
    assert sum(item.added for item in done) == 1
    assert {item.target for item in done} == {stored}


def test_composed_and_decomposed_copies_of_the_same_tweets_are_one_file(tmp_path: Path) -> None:
    tweets = "José\tB-PER\nMüller\tI-PER\nin\tO\nZürich\tB-LOC\n"
    composed = tmp_path / "nfc.conll"
    composed.write_text(unicodedata.normalize("NFC", tweets), encoding="utf-8")
    decomposed = tmp_path / "nfd.conll"
    decomposed.write_text(unicodedata.normalize("NFD", tweets), encoding="utf-8")
    incoming = tmp_path / "incoming"
    first, second = ingest([composed, decomposed], incoming)
    assert first.added and not second.added
    assert incoming_files(incoming) == [first.target]


def test_a_file_over_the_size_limit_refuses_the_batch(tmp_path: Path) -> None:
    good = tmp_path / "good.conll"
    good.write_text(NEW, encoding="utf-8")
    big = tmp_path / "big.conll"
    big.write_text(NEW * 100, encoding="utf-8")
    incoming = tmp_path / "incoming"
    limit_mb = good.stat().st_size * 10 / 1e6
    with pytest.raises(ValueError, match=r"big\.conll: [\d,]+ bytes, over the ingest limit"):
        ingest([good, big], incoming, max_mb=limit_mb)
    assert incoming_files(incoming) == []
