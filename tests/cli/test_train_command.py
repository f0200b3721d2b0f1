"""`nerflow train` as a user runs it: a failure is one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CONLL_DIR


def test_a_failing_run_prints_its_cause_once_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    done = subprocess.run(
        [sys.executable, "-m", "nerflow.cli", "train", "--source", "conll",
         "--data-dir", str(CONLL_DIR), "--base-model", str(missing),
         "--work-dir", str(tmp_path / "work"),
         "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    mentions = [line for line in output.splitlines() if str(missing) in line]
    assert mentions == [f"error: base model {str(missing)!r}: no such folder"], output[-3000:]
    assert not (tmp_path / "work" / "models").exists()


def test_a_terminated_run_stops_the_temporary_prefect_server(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import signal
    import time

    import psutil

    log = tmp_path / "train.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nerflow.cli", "train", "--source", "conll",
             "--data-dir", str(CONLL_DIR), "--base-model", str(tiny_model_dir),
             "--max-length", "32", "--epochs", "500", "--batch-size", "2",
             "--work-dir", str(tmp_path / "work"),
             "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 240
    while "Beginning flow run" not in log.read_text(errors="replace"):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "the temporary Prefect server runs as a child process"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) != 0
    _, alive = psutil.wait_procs(children, timeout=60)
    for leftover in alive:
        leftover.kill()
    assert not alive, [p.cmdline() for p in alive]
