"""Raw tweets to tag: a file or a folder of them, read in order, digested, cut into chunks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

JSON_SUFFIXES = (".jsonl", ".ndjson")
#: What a folder's tweet files end with (a single file is read whatever its name).
FOLDER_SUFFIXES = (".txt", *JSON_SUFFIXES)


class TweetFormatError(ValueError):
    """Input that cannot be read as tweets; the message names the file and line."""


@dataclass(frozen=True)
class TweetInput:
    """What a tagging job reads: its files in order, and its tweets' count and digest."""

    path: Path
    files: tuple[Path, ...]
    tweets: int
    digest: str  # of the tweets as read: the same texts in the same order, the same digest


def input_files(path: Path) -> list[Path]:
    """`path` itself, or a folder's tweet files in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix in FOLDER_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise TweetFormatError(f"{path}: no {', '.join(FOLDER_SUFFIXES)} file in this folder")
    return files


def read_tweet_file(path: Path) -> list[str]:
    """The tweets of one file, one per line; in `.jsonl`/`.ndjson` a string or {"text": ...}."""
    # Lines end at "\n" only (a Unicode line separator stays inside its tweet), and an empty
    # line is an empty tweet, kept: output line N is input line N.
    data = path.read_bytes()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TweetFormatError(
            f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if path.suffix not in JSON_SUFFIXES:
        return lines
    return [_json_text(path, number, line) for number, line in enumerate(lines, start=1)]


def _json_text(path: Path, number: int, line: str) -> str:
    if not line.strip():
        return ""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TweetFormatError(f"{path}:{number}: not JSON: {exc.msg}") from exc
    value = item.get("text") if isinstance(item, dict) else item
    if not isinstance(value, str):
        raise TweetFormatError(f'{path}:{number}: expected a string or {{"text": "..."}}')
    return value


def read_input(path: Path) -> tuple[TweetInput, list[str]]:
    """Every tweet of a file or folder, in order, and what identifies them."""
    files = input_files(path)
    texts = [text for file in files for text in read_tweet_file(file)]
    return TweetInput(path, tuple(files), len(texts), tweets_digest(texts)), texts


def check_output(path: Path, output: Path) -> None:
    """Refuse an output that is the input file, or a tweet file in the input folder (the next
    run would read it as input)."""
    path, output = path.resolve(), output.resolve()
    inside = path.is_dir() and output.parent == path and output.suffix in FOLDER_SUFFIXES
    if output == path or inside:
        raise ValueError(f"output {output} would be part of the input {path}: write it elsewhere")


def tweets_digest(texts: list[str]) -> str:
    """SHA-256 of the texts in order (each length-prefixed, so no two lists share one)."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def chunk_bounds(count: int, size: int) -> list[tuple[int, int]]:
    """`[start, end)` of each chunk of `size` tweets (the last may be shorter), in order."""
    if size < 1:
        raise ValueError(f"chunk size {size}: must be at least 1")
    return [(start, min(start + size, count)) for start in range(0, count, size)]
