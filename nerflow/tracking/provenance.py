"""Who logged a run and with what: its owning process, the code's commit, the machine."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import psutil

from nerflow.tracking import names
from nerflow.tracking.store import client as _client

logger = logging.getLogger(__name__)


def end_abandoned_runs(uri: str, experiment_id: str) -> None:
    """Mark training runs KILLED whose logging process ran on this machine and is gone."""
    for run in _running(uri, experiment_id):
        owner = run.data.tags.get(names.OWNER_TAG)
        if names.MODEL_KEY_TAG in run.data.tags and owner and _is_dead(owner):
            _kill(uri, run.info.run_id, f"next run: {owner} is dead")
            logger.warning("MLflow run %s: its process died; marked KILLED", run.info.run_id)


def end_own_runs(uri: str, experiment: str, reason: str) -> None:
    """Mark the runs this process opened in `experiment` and left RUNNING as KILLED."""
    # Its flow run was stopped (SIGTERM, Ctrl-C) between opening a run and completing it.
    found = _client(uri).get_experiment_by_name(experiment)
    owner = this_process()
    for run in _running(uri, found.experiment_id) if found is not None else []:
        if run.data.tags.get(names.OWNER_TAG) == owner:
            _kill(uri, run.info.run_id, reason[:500])


def _running(uri: str, experiment_id: str) -> list[Any]:
    filter_string = "attributes.status = 'RUNNING'"
    return list(_client(uri).search_runs([experiment_id], filter_string, max_results=1000))


def _kill(uri: str, run_id: str, reason: str) -> None:
    _client(uri).set_tag(run_id, names.ENDED_BY_TAG, reason)
    _client(uri).set_terminated(run_id, status="KILLED")


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
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

    try:
        import git  # GitPython, an MLflow dependency; it fails to import without git
    except ImportError:
        return {}
    try:
        repo = git.Repo(Path(__file__).resolve().parent.parent, search_parent_directories=True)
        commit, dirty = repo.head.commit.hexsha, repo.is_dirty(untracked_files=False)
    except (git.GitError, ValueError, OSError):
        return {}  # not a git checkout (an installed package), or no commit yet
    return {MLFLOW_GIT_COMMIT: commit, names.GIT_DIRTY_TAG: str(dirty).lower()}


def system_tags() -> dict[str, str]:
    """The machine and library versions a run trained with."""
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    p = names.SYSTEM_TAG_PREFIX
    return {
        f"{p}cpus": str(os.cpu_count()),
        f"{p}memory_gb": f"{psutil.virtual_memory().total / 2**30:.0f}",
        f"{p}gpu": gpu,
        f"{p}python": platform.python_version(),
        f"{p}torch": torch.__version__,
    }
