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
