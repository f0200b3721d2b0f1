import hashlib
import json
import unicodedata
from pathlib import Path

import pytest

from nerflow.corpus.conll import ConllFormatError, content_sha256, read_conll
from tests.conftest import CONLL_DIR


def write(tmp_path: Path, content: bytes | str, name: str = "x.conll") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_reads_fixture_tweets_with_their_start_lines() -> None:
    sentences = read_conll(CONLL_DIR / "train.conll")
    assert len(sentences) == 10
    assert sentences[0].tokens[:2] == ["RT", "@BarackObama"]
    assert sentences[0].tags[:2] == ["O", "B-PER"]
    assert sentences[1].line == 10


def test_survives_the_real_corpus_quirks(tmp_path: Path) -> None:
    # empty token, a whitespace-only boundary line, CRLF, no final blank line
    path = write(tmp_path, "a\tO\n\tO\nParis\tB-LOC\n  \nb\tB-PER\r\nc\tI-PER")
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["a", "", "Paris"], ["b", "c"]]
    assert [s.tags for s in sentences] == [["O", "O", "B-LOC"], ["B-PER", "I-PER"]]
    assert sentences[1].line == 5


def test_repairs_an_i_tag_that_opens_an_entity(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "a\tO\nb\tI-ORG\nc\tI-ORG\nd\tI-LOC\n")
    assert read_conll(path)[0].tags == ["O", "B-ORG", "I-ORG", "B-LOC"]
    assert "2 I- tag(s)" in caplog.text and "line 2" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a\tO\nb\tO\tX\n", r"x\.conll:2: expected 2 columns .* found 3"),
        ("a\tO\n\nb\tB-MISC\n", r"x\.conll:3: unknown tag 'B-MISC'"),
        (b"a\tO\n\xff\xfe\tO\n", r"x\.conll:2: not UTF-8 \(byte 0xff"),
        ("", r"x\.conll: file is empty"),
        ("\n \n\n", r"x\.conll: file is empty"),
        ("justonecolumn\n", r"x\.conll:1: expected 2 columns"),
    ],
)
def test_rejects_malformed_input_naming_file_and_line(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    with pytest.raises(ConllFormatError, match=message):
        read_conll(write(tmp_path, content))


def test_cr_only_line_ends_are_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "a\tO\rParis\tB-LOC\r\rb\tO\r")
    with pytest.raises(ConllFormatError, match=r"x\.conll:1: carriage return \(CR\) inside a line"):
        read_conll(path)


def test_decomposed_unicode_reads_as_the_composed_text(tmp_path: Path) -> None:
    words = ["José", "Müller", "Zürich"]
    lines = "".join(f"{word}\tO\n" for word in words)
    composed = read_conll(write(tmp_path, unicodedata.normalize("NFC", lines), "nfc.conll"))
    decomposed = read_conll(write(tmp_path, unicodedata.normalize("NFD", lines), "nfd.conll"))
    assert decomposed[0].tokens == composed[0].tokens == words
    assert content_sha256(decomposed) == content_sha256(composed)


def test_the_content_digest_is_that_of_the_whole_list_dumped_at_once() -> None:
    # Ingested files are named by this digest: hashing a tweet at a time must not rename them.
    sentences = read_conll(CONLL_DIR / "train.conll")
    whole = json.dumps([[s.tokens, s.tags] for s in sentences], separators=(",", ":"))
    assert content_sha256(iter(sentences)) == hashlib.sha256(whole.encode()).hexdigest()


def test_a_path_that_is_not_a_regular_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "train.conll"
    folder.mkdir()
    loop = tmp_path / "loop.conll"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling.conll"
    dangling.symlink_to(tmp_path / "gone.conll")
    with pytest.raises(ConllFormatError, match=r"train\.conll: is a folder, not a CoNLL file"):
        read_conll(folder)
    with pytest.raises(ConllFormatError, match=r"loop\.conll: cannot be read: Too many levels"):
        read_conll(loop)
    with pytest.raises(FileNotFoundError, match=r"dangling\.conll: no such file \(a symlink"):
        read_conll(dangling)
