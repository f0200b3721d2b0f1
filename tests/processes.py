"""Start real servers as subprocesses on free loopback ports, and stop every process they spawn."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, chars: int = 4000) -> str:
    """The end of a process's log, for failure messages."""
    return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""


def stop(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM the process and everything it spawned (flow runs start in their own sessions)."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.NoSuchProcess:
        family = []
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # graceful: serve pauses its schedule
    _, alive = psutil.wait_procs(family, timeout=grace)
    for leftover in alive:
        with suppress(psutil.NoSuchProcess):
            leftover.kill()
    psutil.wait_procs(alive, timeout=10)
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def as_user(name: str | None) -> dict[str, Any]:
    """Popen arguments that run the child as user `name` (only root may): its uid, its primary
    group and no other groups (else it keeps root's supplementary groups). None: as this user."""
    if name is None:
        return {}
    entry = pwd.getpwnam(name)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@contextmanager
def running(
    command: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    user: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in its own process group (as `user` if given), output to `log`; stop it
    (and its children) after."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user(user),
        )
        try:
            yield process
        finally:
            stop(process)


def wait_http_ok(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0
) -> None:
    """Poll `url` until it answers 200; fail early, with the log, if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout:.0f} s:\n{log_tail(log)}")
