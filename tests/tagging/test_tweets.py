"""Reading raw tweets: files and folders, the line rules, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerflow.tagging.tweets import (
    TweetFormatError,
    check_output,
    chunk_bounds,
    input_files,
    read_input,
    read_tweet_file,
    tweets_digest,
)


def test_a_text_file_is_one_tweet_per_line_and_empty_lines_stay(tmp_path: Path) -> None:
    path = tmp_path / "tweets.txt"
    path.write_bytes("\ufefffirst\r\n\nthird\u2028same tweet\n   \nlast".encode())
    assert read_tweet_file(path) == ["first", "", "third\u2028same tweet", "   ", "last"]
    path.write_text("one\n", encoding="utf-8")
    assert read_tweet_file(path) == ["one"]  # the final newline ends a line, adds none
    path.write_text("", encoding="utf-8")
    assert read_tweet_file(path) == []


def test_json_lines_take_strings_or_text_fields(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    rows = [json.dumps("plain"), "", json.dumps({"text": "with id", "id": 7})]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert read_tweet_file(path) == ["plain", "", "with id"]


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", r"bad\.jsonl:2: not JSON"), ('{"id": 3}', r"bad\.jsonl:2: expected a string")],
)
def test_a_bad_json_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(f'"fine"\n{line}\n', encoding="utf-8")
    with pytest.raises(TweetFormatError, match=message):
        read_tweet_file(path)


def test_undecodable_bytes_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\nalso fine\ncaf\xe9 au lait\n")
    with pytest.raises(TweetFormatError) as caught:
        read_tweet_file(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 (byte 0xe9 at offset 18)"


def test_a_folder_is_read_file_by_file_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text('{"text": "b1"}\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text("a1\na2\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not tweets\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("editor swap\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("nested\n", encoding="utf-8")
    found, texts = read_input(tmp_path)
    assert texts == ["a1", "a2", "b1"]
    assert found.files == (tmp_path / "a.txt", tmp_path / "b.jsonl")
    assert (found.tweets, found.digest) == (3, tweets_digest(texts))


def test_a_folder_without_tweet_files_or_a_missing_path_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x\n", encoding="utf-8")
    with pytest.raises(TweetFormatError, match=r"no \.txt, \.jsonl, \.ndjson file"):
        input_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        input_files(tmp_path / "missing.txt")


def test_the_digest_follows_the_texts_and_their_order_only(tmp_path: Path) -> None:
    assert tweets_digest(["a", "b"]) != tweets_digest(["b", "a"])
    assert tweets_digest(["ab", ""]) != tweets_digest(["a", "b"])
    crlf, lf = tmp_path / "crlf.txt", tmp_path / "lf.txt"
    crlf.write_bytes(b"a\r\nb\r\n")
    lf.write_bytes(b"a\nb")
    assert read_input(crlf)[0].digest == read_input(lf)[0].digest


def test_chunks_cover_every_tweet_once_in_order() -> None:
    assert chunk_bounds(50, 8) == [(i, min(i + 8, 50)) for i in range(0, 50, 8)]
    assert chunk_bounds(16, 8) == [(0, 8), (8, 16)]
    assert chunk_bounds(0, 8) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunk_bounds(5, 0)


def test_an_output_that_would_overwrite_or_join_the_input_is_refused(tmp_path: Path) -> None:
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="would be part of the input"):
        check_output(tweets, tweets)
    with pytest.raises(ValueError, match="would be part of the input"):
        check_output(tmp_path, tmp_path / "tagged.jsonl")  # the next run would read it
    check_output(tmp_path, tmp_path / "tagged.json")  # not a tweet file: left alone
    check_output(tmp_path, tmp_path / "out" / "tagged.jsonl")
    check_output(tweets, tmp_path / "tagged.jsonl")
