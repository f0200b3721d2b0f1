"""Locks span machines exactly while a Prefect server is configured, decided per lock."""

from __future__ import annotations

from pathlib import Path

from prefect.settings import PREFECT_API_URL, temporary_settings

from nerflow.locks import named_lock
from nerflow.orchestration import locks


def test_a_lock_is_the_servers_only_while_a_server_is_configured(
    tmp_path: Path, server_locks_taken: list[str]
) -> None:
    locks.install_shared_locks()
    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}),
        named_lock("nerflow-registry-x", "the registry", tmp_path / "a.lock"),
    ):
        pass
    # The server is gone from the settings (a test harness ended, a profile changed):
    # the same process now takes this machine's file lock, not a limit of a server that
    # is no longer there.
    with (
        temporary_settings({PREFECT_API_URL: None}),
        named_lock("nerflow-registry-x", "the registry", tmp_path / "b.lock"),
    ):
        pass
    assert server_locks_taken == ["nerflow-registry-x"]
    assert not (tmp_path / "a.lock").exists() and (tmp_path / "b.lock").exists()
