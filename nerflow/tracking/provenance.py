"""Who logged a run and with what: its owning process, the code's commit, the machine."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import psutil

from nerflow.tracking.registry import MODEL_KEY_TAG
from nerflow.tracking.store import client as _client

logger = logging.getLogger(__name__)

#: `host pid start-time` of the process logging a run (`end_abandoned_runs` reads it).
OWNER_TAG = "nerflow.owner"


def end_abandoned_runs(uri: str, experiment_id: str) -> None:
    """Mark training runs whose logging process is known dead as KILLED.

    A run is ended only when its owner (host, pid and start time, tagged when it opened)
    ran on this machine and is gone: a RUNNING run of a live process, of another machine,
    or of an older nerflow that did not tag its owner is left alone.
    """
    client = _client(uri)
    for run in client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        owner = run.data.tags.get(OWNER_TAG)
        if MODEL_KEY_TAG in run.data.tags and owner and _is_dead(owner):
            client.set_tag(run.info.run_id, "nerflow.ended_by", f"next run: {owner} is dead")
            client.set_terminated(run.info.run_id, status="KILLED")
            logger.warning("MLflow run %s: its process died; marked KILLED", run.info.run_id)


def end_own_runs(uri: str, experiment: str, reason: str) -> None:
    """Mark the runs this process opened in `experiment` and left RUNNING as KILLED: its flow
    run was stopped (SIGTERM, Ctrl-C) between opening a run and completing it."""
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return
    owner = this_process()
    for run in client.search_runs(
        [found.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        if run.data.tags.get(OWNER_TAG) == owner:
            client.set_tag(run.info.run_id, "nerflow.ended_by", reason[:500])
            client.set_terminated(run.info.run_id, status="KILLED")


def this_process() -> str:
    """`host pid start-time` of this process: who owns the runs it opens."""
    started = psutil.Process().create_time()
    return f"{socket.gethostname()} {os.getpid()} {started:.2f}"


def _is_dead(owner: str) -> bool:
    """True when `owner` (as `this_process` wrote it) ran here and has exited."""
    try:
        host, pid, started = owner.split()
        process = psutil.Process(int(pid)) if host == socket.gethostname() else None
    except psutil.NoSuchProcess:
        return True
    except ValueError:
        return False  # not a tag this code wrote: nothing is known about its owner
    # Another machine's process cannot be seen from here; a reused pid has another start.
    return process is not None and abs(process.create_time() - float(started)) > 0.05


def code_tags() -> dict[str, str]:
    """The git commit of the code that ran (MLflow's own tag names), and whether it was dirty."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if commit.returncode != 0:
        return {}
    return {
        "mlflow.source.git.commit": commit.stdout.strip(),
        "nerflow.git_dirty": str(bool(status.stdout.strip())).lower(),
    }


def system_tags() -> dict[str, str]:
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "system.cpus": str(os.cpu_count()),
        "system.memory_gb": f"{psutil.virtual_memory().total / 2**30:.0f}",
        "system.gpu": gpu,
        "system.python": platform.python_version(),
        "system.torch": torch.__version__,
    }
