"""`nerflow train` as a user runs it: a failure is one line and a non-zero exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_a_terminated_or_killed_run_stops_the_temporary_prefect_server(
    tmp_path: Path, tiny_model_dir: Path, signum: signal.Signals
) -> None:
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
    process.send_signal(signum)
    assert process.wait(timeout=120) != 0
    _, alive = psutil.wait_procs(children, timeout=60)
    for leftover in alive:
        leftover.kill()
    assert not alive, [p.cmdline() for p in alive]


def test_a_run_that_cannot_get_memory_stops_at_once_with_one_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import resource
    import sqlite3

    limit = 1_500_000_000  # bytes of address space: torch and Prefect's threads need more

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    done = subprocess.run(
        [sys.executable, "-m", "nerflow.cli", "train", "--source", "conll",
         "--data-dir", str(CONLL_DIR), "--base-model", str(tiny_model_dir),
         "--max-length", "32", "--max-steps", "4", "--batch-size", "4",
         "--work-dir", str(tmp_path / "work"),
         "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, preexec_fn=capped,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "Logging error" not in output, output[-3000:]
    assert done.stderr.splitlines()[-1].startswith("error: out of memory ("), output[-3000:]
    if (tmp_path / "mlflow.db").exists():
        with sqlite3.connect(tmp_path / "mlflow.db") as store:
            assert store.execute("SELECT COUNT(*) FROM model_versions").fetchone() == (0,)
    if (tmp_path / "prefect" / "prefect.db").exists():
        with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as prefect_db:
            states = prefect_db.execute("SELECT state_type FROM flow_run").fetchall()
        assert ("RUNNING",) not in states  # a run that began was marked FAILED


#: `nerflow train` in a process where SIGTERM arrives while MODULE.FUNCTION runs (a step's
#: work), and, with SWALLOW, the code running then swallows every exception, as a finalizer or
#: a library's catch-all does.
SIGTERM_DURING = """
import importlib, os, signal, sys, time

module = importlib.import_module(sys.argv.pop(1))
name, swallow = sys.argv.pop(1), sys.argv.pop(1) == "swallow"
work = getattr(module, name)

def terminated(*args, **kwargs):
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except BaseException:
        if not swallow:
            raise
    return work(*args, **kwargs)

setattr(module, name, terminated)
from nerflow.cli import main
sys.argv[0] = "nerflow"
main()
"""


def _train_terminated_during(
    tmp_path: Path, tiny_model_dir: Path, step: str, swallow: bool
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    module, function = step.rsplit(".", 1)
    return subprocess.run(
        [sys.executable, "-c", SIGTERM_DURING, module, function, "swallow" if swallow else "-",
         "train", "--source", "conll",
         "--data-dir", str(CONLL_DIR), "--base-model", str(tiny_model_dir),
         "--max-length", "32", "--max-steps", "4", "--batch-size", "4",
         "--work-dir", str(tmp_path / "work"),
         "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_sigterm_swallowed_during_a_step_still_stops_the_run(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import sqlite3

    done = _train_terminated_during(
        tmp_path, tiny_model_dir, "nerflow.corpus.tokenize.tokenize_corpus", swallow=True
    )
    output = done.stdout + done.stderr
    assert done.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert "registered" not in done.stdout, output[-3000:]
    if (tmp_path / "mlflow.db").exists():
        with sqlite3.connect(tmp_path / "mlflow.db") as store:
            assert store.execute("SELECT COUNT(*) FROM model_versions").fetchone() == (0,)


def test_a_sigterm_during_evaluation_ends_the_training_run_killed(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from mlflow import MlflowClient

    done = _train_terminated_during(
        tmp_path, tiny_model_dir, "nerflow.evaluation.write_report", swallow=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 128 + signal.SIGTERM, output[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("btc-ner").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"], output[-3000:]
    assert client.search_model_versions() == []
