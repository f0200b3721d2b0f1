"""Two work dirs (two machines) attached to one shared store compute each step once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nerflow.cache import FINGERPRINT_FILE, SECONDS_FILE, is_complete, produce, watch_outputs
from nerflow.locks import registry_lock, use_shared_locks
from nerflow.shared import STORE_FILE, attach, store_of


def _machines(tmp_path: Path) -> tuple[Path, Path, str]:
    store = (tmp_path / "store").as_uri()  # file://: the same code path as s3:// or gs://
    first, second = tmp_path / "a" / ".nerflow", tmp_path / "b" / ".nerflow"
    attach(first, store)
    attach(second, store)
    return first, second, store


def _build(calls: list[str], text: str):  # type: ignore[no-untyped-def]
    def build(scratch: Path) -> None:
        calls.append(text)
        (scratch / "sub").mkdir()
        (scratch / "sub" / "model.bin").write_text(text, encoding="utf-8")

    return build


def test_a_step_finished_on_one_machine_is_copied_not_computed_on_the_other(
    tmp_path: Path,
) -> None:
    first, second, _ = _machines(tmp_path)
    calls: list[str] = []
    produce(first / "models" / "k1", _build(calls, "from a"))
    with watch_outputs() as produced:
        folder = produce(second / "models" / "k1", _build(calls, "from b"))
    assert calls == ["from a"]
    assert produced[0].reused  # a copy counts as a cache hit, as in Prefect's `Cached` state
    assert (folder / "sub" / "model.bin").read_text(encoding="utf-8") == "from a"
    assert is_complete(folder)
    # The step's cost travels with it: where it was computed, not the copy's time.
    original = first / "models" / "k1"
    assert (folder / SECONDS_FILE).read_text() == (original / SECONDS_FILE).read_text()


def test_a_half_published_folder_is_not_taken(tmp_path: Path) -> None:
    first, second, _ = _machines(tmp_path)
    calls: list[str] = []
    produce(first / "models" / "k1", _build(calls, "from a"))
    # A publisher killed before its last write: the files are there, the marker is not.
    (tmp_path / "store" / "models" / "k1" / FINGERPRINT_FILE).unlink()
    folder = produce(second / "models" / "k1", _build(calls, "from b"))
    assert calls == ["from a", "from b"]
    assert (folder / "sub" / "model.bin").read_text(encoding="utf-8") == "from b"
    # ...and the second machine's complete folder replaced the half-published one.
    published = tmp_path / "store" / "models" / "k1"
    assert (published / FINGERPRINT_FILE).is_file()
    assert (published / "sub" / "model.bin").read_text(encoding="utf-8") == "from b"


def test_a_step_found_locally_is_published_for_the_others(tmp_path: Path) -> None:
    work = tmp_path / "a" / ".nerflow"
    calls: list[str] = []
    produce(work / "models" / "k1", _build(calls, "before sharing"))
    attach(work, (tmp_path / "store").as_uri())
    produce(work / "models" / "k1", _build(calls, "again"))
    assert calls == ["before sharing"]
    assert (tmp_path / "store" / "models" / "k1" / FINGERPRINT_FILE).is_file()


def test_detaching_a_work_dir_stops_sharing(tmp_path: Path) -> None:
    first, _, _ = _machines(tmp_path)
    assert store_of(first) is not None
    attach(first, None)
    assert not (first / STORE_FILE).exists()
    produce(first / "models" / "k2", _build([], "local"))
    assert not (tmp_path / "store" / "models" / "k2").exists()
    attach(tmp_path / "never-used", None)  # a run refused before any work leaves nothing
    assert not (tmp_path / "never-used").exists()


def test_a_store_that_cannot_be_used_is_named_before_any_step(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"shared_dir .*file"):
        attach(tmp_path / "w", str(blocked / "store"))
    with pytest.raises(RuntimeError, match="shared_dir 'nosuch://x'"):
        attach(tmp_path / "w", "nosuch://x")
    assert not (tmp_path / "w" / STORE_FILE).exists()


def test_shared_steps_and_the_registry_take_the_shared_lock_local_steps_do_not(
    tmp_path: Path,
) -> None:
    held: list[str] = []

    @contextmanager
    def recording(name: str, what: str, timeout: float | None) -> Iterator[None]:
        held.append(name)
        yield

    first, _, _ = _machines(tmp_path)
    use_shared_locks(recording)
    try:
        produce(first / "models" / "k1", _build([], "x"))
        produce(tmp_path / "local" / "models" / "k1", _build([], "x"))
        with registry_lock("sqlite:///x.db", "btc-ner"):
            pass
    finally:
        use_shared_locks(None)
    # Built and published in one hold of the shared lock: a machine waiting on it must find
    # the folder in the store when it gets the lock, not build it again (seen when publishing
    # came after a release). The local work dir took no shared lock.
    assert held[:-1] == ["nerflow-step-models-k1"]
    assert held[-1].startswith("nerflow-registry-")
