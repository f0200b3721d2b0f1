"""Two machines, one pool: two process workers, each in its own folder with its own
`PREFECT_HOME` and work dir, sharing only the PostgreSQL-backed Prefect and MLflow servers
and a shared step store. Every step is computed once across both, every distinct model is
registered once, and the alias history holds every move. And the lock that makes this so:
a global concurrency limit on the server, whose lease frees it when its holder is killed."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, StateType

from nerflow.orchestration.locks import LEASE_SECONDS
from nerflow.tracking.names import MODEL_KEY_TAG
from tests.conftest import tiny_run_config
from tests.deployments.test_scheduled_retraining import (
    ROOT,
    aliases,
    cli,
    prefect_api,
    task_states,
    versions,
)
from tests.postgres import Postgres
from tests.processes import log_tail, running
from tests.servers import PREFECT, MlflowServer, PrefectServer

POOL = "nerflow-process"
DEPLOYMENT = "train-ner/train-process"
STEPS = ("gather-corpus", "tokenize-dataset", "train-model", "evaluate-model")


def _machine(root: Path, name: str, server: PrefectServer) -> tuple[Path, dict[str, str]]:
    """A worker's own folder (its checkout: the flow files) and environment."""
    home = root / name
    home.mkdir()
    (home / "flows").symlink_to(ROOT / "flows")  # what `git clone` gives a second machine
    env = {**server.client_env, "PREFECT_HOME": str(home / ".prefect"), "NERFLOW_ROOT": str(home)}
    return home, env


def _parameters(tiny_model_dir: Path, mlflow: MlflowServer, shared: str, seed: int) -> Any:
    config = tiny_run_config(
        tiny_model_dir, mlflow.url, "two-workers", "pool-ner", Path(".nerflow"), seed=seed
    ).model_copy(update={"shared_dir": shared})
    # Relative work dir: each run caches in the folder of the worker that picks it up.
    return json.loads(config.model_dump_json())


def _run_together(api: SyncPrefectClient, parameters: list[Any], log: Path) -> list[FlowRun]:
    deployment = api.read_deployment_by_name(DEPLOYMENT)
    created = [api.create_flow_run_from_deployment(deployment.id, parameters=p) for p in parameters]
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        runs = [api.read_flow_run(run.id) for run in created]
        if all(run.state is not None and run.state.is_final() for run in runs):
            return runs
        time.sleep(2)
    raise AssertionError(
        f"runs not finished in time: {[r.state_name for r in runs]}\n{log_tail(log)}"
    )


def _alias_chains(client: MlflowClient, name: str) -> dict[str, list[str]]:
    """Each alias's moves, rebuilt from the versions' history tags: [first, next, ...]."""
    events = []
    for version in client.search_model_versions(f"name='{name}'"):
        history = json.loads(version.tags.get("nerflow.alias_history", "[]"))
        events += [(e["at"], e["alias"], str(version.version), e) for e in history]
    chains: dict[str, list[str]] = {}
    moved: Counter[tuple[str, str, str]] = Counter()
    for _, alias, version, event in sorted(events, key=lambda e: e[0]):
        if event["action"] == "set":
            chain = chains.setdefault(alias, [])
            # A lost update would show as two versions set from the same previous holder.
            assert event["from_version"] == (chain[-1] if chain else None), (alias, events)
            chain.append(version)
        else:
            moved[(alias, version, event["to_version"])] += 1
    for alias, chain in chains.items():
        for old, new in itertools.pairwise(chain):
            assert moved[(alias, old, new)] == 1, f"{alias}: v{old} -> v{new} not on v{old}"
    return chains


# Each script is a separate process (a separate machine would see only the server too).
TAKE = """
import sys, time
import nerflow.orchestration.locks as locks
from nerflow.locks import registry_lock
locks.install_shared_locks()
assert locks.server_configured()
started = time.monotonic()
with registry_lock("sqlite:////srv/mlflow.db", "btc-ner", timeout=float(sys.argv[1])):
    print(f"held after {time.monotonic() - started:.1f} s", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _take(server: PrefectServer, timeout: float, hold: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TAKE, str(timeout), str(hold)],
        env=server.client_env, capture_output=True, text=True, timeout=timeout + 120,
    )  # fmt: skip


def test_two_workers_compute_each_step_once_and_register_each_model_once(
    postgres_prefect_server: PrefectServer,
    postgres_mlflow_server: MlflowServer,
    postgres: Postgres,
    tiny_model_dir: Path,
    tmp_path: Path,
) -> None:
    server, mlflow = postgres_prefect_server, postgres_mlflow_server
    shared = (tmp_path / "shared-store").as_uri()
    cli([PREFECT, "work-pool", "create", POOL, "--type", "process"], server.client_env)
    cli([PREFECT, "--no-prompt", "deploy", "--name", "train-process"], server.client_env)
    machines = [_machine(tmp_path, name, server) for name in ("machine-a", "machine-b")]
    logs = [home / "worker.log" for home, _ in machines]
    with ExitStack() as stack, prefect_api(server) as api:
        for (home, env), log in zip(machines, logs, strict=True):
            worker = [
                PREFECT,
                "worker",
                "start",
                "--pool",
                POOL,
                "--limit",
                "1",
                "--name",
                home.name,
            ]
            stack.enter_context(running(worker, env, log, cwd=home))
        # Two different configs at once, then the same (third) config twice at once.
        first = _run_together(
            api, [_parameters(tiny_model_dir, mlflow, shared, s) for s in (0, 1)], logs[0]
        )
        second = _run_together(
            api, [_parameters(tiny_model_dir, mlflow, shared, 2) for _ in range(2)], logs[1]
        )
        runs = first + second
        failed = [(r.name, r.state_name) for r in runs if r.state_type != StateType.COMPLETED]
        assert not failed, f"{failed}\n{log_tail(logs[0])}\n{log_tail(logs[1])}"
        states = [task_states(api, run) for run in runs]
        # The locks were the server's global concurrency limits (the workers share no disk).
        limits = {limit.name for limit in api.read_global_concurrency_limits(limit=200)}
        assert any(name.startswith("nerflow-registry-") for name in limits), limits
        assert any(name.startswith("nerflow-step-models-") for name in limits), limits

    computed = Counter(step for s in states for step in STEPS if s[step] == "Completed")
    # The corpus and its tokenization are the same for all four runs: computed once, the
    # other three took them (from the local work dir or the shared store) as cache hits.
    assert computed["gather-corpus"] == 1 and computed["tokenize-dataset"] == 1, states
    # Three distinct trainings (seeds 0, 1, 2); the repeated config trained once.
    assert computed["train-model"] == 3 and computed["evaluate-model"] == 3, states
    # Both machines worked: each work dir holds models it computed or copied.
    for home, _ in machines:
        assert list((home / ".nerflow" / "models").iterdir()), f"{home.name} ran nothing"
    published = tmp_path / "shared-store" / "models"
    assert len([p for p in published.iterdir() if (p / "FINGERPRINT").is_file()]) == 3

    client = MlflowClient(tracking_uri=mlflow.url, registry_uri=mlflow.url)
    assert versions(client, "pool-ner") == ["1", "2", "3"]
    keys = [v.tags.get(MODEL_KEY_TAG) for v in client.search_model_versions("name='pool-ner'")]
    assert len(set(keys)) == 3, keys
    chains = _alias_chains(client, "pool-ner")
    current = aliases(client, "pool-ner")
    assert chains and all(current[alias] == chain[-1] for alias, chain in chains.items())
    # The registry lived on PostgreSQL (not a SQLite file somewhere by mistake).
    database = mlflow.backend_uri.rsplit("/", 1)[1]
    query = "SELECT count(*) FROM model_versions WHERE name = %s"
    assert postgres.scalar(database, query, "pool-ner") == 3


def test_registry_lock_spans_processes_and_a_killed_holders_lease_expires(
    postgres_prefect_server: PrefectServer,
) -> None:
    """With a Prefect server configured, the registry lock is a global concurrency limit
    there: processes that share only the server exclude each other, and a killed holder's
    slot comes back when its lease runs out."""
    server = postgres_prefect_server
    holder = subprocess.Popen(
        [sys.executable, "-c", TAKE, "60", "600"],
        env=server.client_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.startswith("held"), holder.stderr.read() if holder.stderr else line
        blocked = _take(server, timeout=3, hold=0)
        assert blocked.returncode != 0
        assert "the registry of 'btc-ner' stayed locked for 3 s" in blocked.stderr
        assert "global concurrency limit 'nerflow-registry-" in blocked.stderr
    finally:
        holder.kill()  # SIGKILL: no release, only the lease running out frees the slot
        holder.wait()
    killed_at = time.monotonic()
    after = _take(server, timeout=150, hold=0)
    assert after.returncode == 0, after.stderr[-3000:]
    # The lease (60 s, the server's minimum) + its expiry sweep (every 5 s here) + a start.
    assert time.monotonic() - killed_at < LEASE_SECONDS + 45, after.stdout
