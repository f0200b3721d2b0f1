"""End to end on a real `prefect server`: schedules fire, retrain only on change, the gate judges.

Two ways to run the deployment, as the docs give them: (a) served by `serve_retraining`
(what `nerflow serve` calls), (b) `prefect deploy` from prefect.yaml and a process worker.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from mlflow import MlflowClient
from nerflow.deployments.retrain import definitions, retraining_parameters
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from nerflow.config import RunConfig
from tests.conftest import CONLL_DIR, tiny_run_config
from tests.processes import log_tail, running
from tests.servers import PREFECT, PrefectServer

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

SERVE = """
import sys
from pathlib import Path

from nerflow.deployments.retrain import (
    retraining_deployment, retraining_schedule, serve_retraining,
)
from nerflow.config import RunConfig

config = RunConfig.model_validate_json(Path(sys.argv[1]).read_text())
schedule = retraining_schedule(timezone="Europe/Berlin", interval=float(sys.argv[2]))
serve_retraining(retraining_deployment(config, schedule, name=sys.argv[3]))
"""

#: Fires every 20 s: the first run within 20 s of serving, then again and again.
INTERVAL_S = 20


@contextmanager
def prefect_api(server: PrefectServer) -> Iterator[SyncPrefectClient]:
    """A client of the test server (this process otherwise has no Prefect API configured)."""
    with (
        temporary_settings({PREFECT_API_URL: server.api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client


def wait_for(find: Callable[[], T | None], timeout: float, what: str, log: Path) -> T:
    """Poll `find` until it returns something; fail with the process log after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{log_tail(log)}")


def deployment_runs(client: SyncPrefectClient, deployment_id: Any) -> list[FlowRun]:
    """Every flow run of one deployment."""
    ids = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    return client.read_flow_runs(deployment_filter=ids, limit=200)


def completed_scheduled_run(
    client: SyncPrefectClient, deployment_id: Any, started_after: datetime
) -> FlowRun | None:
    """The first run the scheduler created that started after a time and reached COMPLETED."""
    runs = [
        run
        for run in deployment_runs(client, deployment_id)
        if run.auto_scheduled
        and run.start_time is not None
        and run.start_time > started_after
        and run.state_type == StateType.COMPLETED
    ]
    return min(runs, key=lambda run: run.start_time or started_after, default=None)


def task_states(client: SyncPrefectClient, run: FlowRun) -> dict[str, str]:
    """Task name (without its run suffix) to the state it ended in: Completed, Cached, ..."""
    ids = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
    return {
        task.name.rsplit("-", 1)[0]: str(task.state_name)
        for task in client.read_task_runs(flow_run_filter=ids)
    }


def run_log(client: SyncPrefectClient, run: FlowRun, expect: str, timeout: float = 60) -> str:
    """The flow run's log lines as stored by the server, once they include `expect`.

    The served process ships its logs in batches, so they can reach the server a little
    after the run is already COMPLETED.
    """
    deadline = time.monotonic() + timeout
    while True:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        text = "\n".join(entry.message for entry in logs)
        if expect in text or time.monotonic() > deadline:
            return text
        time.sleep(1)


def tiny_config(tmp_path: Path, tiny_model_dir: Path, corpus: Path, model_name: str) -> RunConfig:
    """The tiny BERT on the fixture tweets, four steps, a SQLite MLflow store under tmp_path."""
    (tmp_path / "mlruns").mkdir(exist_ok=True)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    return tiny_run_config(tiny_model_dir, uri, "scheduled", model_name, tmp_path / "work", corpus)


def registry(config: RunConfig) -> tuple[MlflowClient, str]:
    uri = str(config.tracking.tracking_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), config.tracking.registered_model


def versions(client: MlflowClient, name: str) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))


def aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def flow_run_of(client: MlflowClient, version: Any) -> str:
    """The Prefect flow run that logged a model version (a tag on its MLflow run)."""
    return str(client.get_run(version.run_id).data.tags["prefect.flow_run_id"])


def change_corpus(corpus: Path) -> None:
    """Append the first training tweet again: a new corpus revision, written atomically."""
    train = corpus / "train.conll"
    text = train.read_text(encoding="utf-8")
    first_tweet = text.split("\n\n", 1)[0]
    scratch = corpus / "train.conll.tmp"
    scratch.write_text(text.rstrip("\n") + "\n\n" + first_tweet + "\n", encoding="utf-8")
    os.replace(scratch, train)


def assert_never_overlapped(runs: list[FlowRun]) -> None:
    """concurrency_limit 1: no run started before the previous one ended."""
    spans = sorted(
        (run.start_time, run.end_time or datetime.now(UTC), run.name)
        for run in runs
        if run.start_time is not None
    )
    for (_, end, name), (start, _, next_name) in itertools.pairwise(spans):
        assert start >= end, f"{next_name} started before {name} ended"


def test_a_served_schedule_fires_retrains_only_on_change_and_the_gate_judges(
    prefect_server: PrefectServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CONLL_DIR, corpus)
    config = tiny_config(tmp_path, tiny_model_dir, corpus, "scheduled-ner")
    (tmp_path / "run.json").write_text(config.model_dump_json(), encoding="utf-8")
    name = "retrain-every-20s"
    log = tmp_path / "serve.log"
    mlflow, model = registry(config)
    command = [sys.executable, "-c", SERVE, str(tmp_path / "run.json"), str(INTERVAL_S), name]

    with (
        running(command, prefect_server.client_env, log, cwd=tmp_path),
        prefect_api(prefect_server) as api,
    ):

        def find_deployment() -> Any:
            try:
                return api.read_deployment_by_name(f"train-ner/{name}")
            except ObjectNotFound:
                return None

        deployment = wait_for(find_deployment, 90, "the served deployment", log)
        schedule = deployment.schedules[0].schedule
        assert getattr(schedule, "interval", None) == timedelta(seconds=INTERVAL_S)
        assert getattr(schedule, "timezone", None) == "Europe/Berlin"
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        assert deployment.concurrency_options is not None
        assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
        facts = definitions()
        assert set(deployment.tags) == set(facts["tags"])
        assert deployment.description == facts["description"]
        assert deployment.entrypoint == "nerflow.flows.train_ner.train_ner"
        assert deployment.parameters == retraining_parameters(config)

        # 1. The schedule fires; the run trains, registers version 1, the gate crowns it.
        first = wait_for(
            lambda: completed_scheduled_run(api, deployment.id, datetime.min.replace(tzinfo=UTC)),
            150,
            "a scheduled run that completed",
            log,
        )
        assert task_states(api, first)["train-model"] == "Completed"
        assert versions(mlflow, model) == ["1"]
        assert aliases(mlflow, model) == {"champion": "1"}
        v1 = mlflow.get_model_version(model, "1")
        assert flow_run_of(mlflow, v1) == str(first.id)
        history = json.loads(v1.tags["nerflow.alias_history"])
        assert history[0]["alias"] == "champion"
        assert history[0]["by"] == f"prefect flow run {first.id}"

        # 2. It fires again with nothing changed: every step is a cache hit, the run says
        # so in its log, ends COMPLETED, and registers nothing.
        assert first.end_time is not None
        second = wait_for(
            lambda: completed_scheduled_run(api, deployment.id, first.end_time),
            90,
            "a second scheduled run",
            log,
        )
        states = task_states(api, second)
        for step in ("gather-corpus", "tokenize-dataset", "train-model", "evaluate-model"):
            assert states[step] == "Cached", states
        assert "Finished in state Cached" in run_log(api, second, "Finished in state Cached")
        assert versions(mlflow, model) == ["1"]
        assert aliases(mlflow, model) == {"champion": "1"}

        # 3. A new corpus revision: the next firing retrains and the gate judges v2.
        change_corpus(corpus)
        changed_at = datetime.now(UTC)
        third = wait_for(
            lambda: completed_scheduled_run(api, deployment.id, changed_at),
            150,
            "a scheduled run after the corpus changed",
            log,
        )
        states = task_states(api, third)
        assert states["gather-corpus"] == "Completed"
        assert states["train-model"] == "Completed"
        assert versions(mlflow, model) == ["1", "2"]
        v2 = mlflow.get_model_version(model, "2")
        assert flow_run_of(mlflow, v2) == str(third.id)
        decision = v2.tags["nerflow.promotion"]
        if decision.startswith("promoted"):
            assert aliases(mlflow, model) == {"champion": "2", "previous-champion": "1"}
        else:
            assert decision.startswith("challenger"), decision
            assert aliases(mlflow, model) == {"champion": "1", "challenger": "2"}

        runs = deployment_runs(api, deployment.id)
        assert_never_overlapped(runs)
        failed = [r.name for r in runs if r.state_type in {StateType.FAILED, StateType.CRASHED}]
        assert not failed, f"runs failed: {failed}\n{log_tail(log)}"

    # Stopping the server process pauses the schedule: no runs pile up unserved.
    with prefect_api(prefect_server) as api:
        assert api.read_deployment(deployment.id).paused


def test_prefect_yaml_deploys_to_its_pools_and_a_process_worker_runs_it(
    prefect_server: PrefectServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    env = {**prefect_server.client_env, "NERFLOW_ROOT": str(ROOT)}
    pools = [
        ["nerflow-process", "--type", "process"],
        ["nerflow-docker", "--type", "docker"],
        ["nerflow-kubernetes", "--type", "kubernetes", "--base-job-template",
         str(ROOT / "deployments" / "kubernetes" / "base-job-template.json")],
    ]  # fmt: skip
    for pool in pools:
        cli([PREFECT, "work-pool", "create", *pool], env)
    cli([PREFECT, "--no-prompt", "deploy", "--all"], env)

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    retraining = [e for e in spec["deployments"] if "schedules" in e]
    with prefect_api(prefect_server) as api:
        assert api.read_deployment_by_name("tune-ner/tune-process").schedules == []
        for entry in retraining:
            deployment = api.read_deployment_by_name(f"train-ner/{entry['name']}")
            cron = deployment.schedules[0].schedule
            nightly = definitions()["schedules"]["nightly"]
            assert getattr(cron, "cron", None) == nightly["cron"]
            assert getattr(cron, "timezone", None) == nightly["timezone"]
            assert deployment.global_concurrency_limit is not None
            assert deployment.global_concurrency_limit.limit == 1
            assert deployment.concurrency_options is not None
            assert (
                deployment.concurrency_options.collision_strategy
                == ConcurrencyLimitStrategy.ENQUEUE
            )
            assert set(deployment.tags) == set(definitions()["tags"]) and deployment.description
            RunConfig.model_validate(deployment.parameters)  # a typo in a field fails here
            pool = api.read_work_pool(entry["work_pool"]["name"])
            declared = set(pool.base_job_template["variables"]["properties"])
            assert set(deployment.job_variables) <= declared, deployment.job_variables
        gpu = api.read_deployment_by_name("train-ner/nightly-retrain-kubernetes")
        pod = rendered_job(api.read_work_pool("nerflow-kubernetes").base_job_template, gpu)
        container = pod["containers"][0]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}
        assert {m["mountPath"] for m in container["volumeMounts"]} == {"/cache", "/dev/shm"}
        claims = [
            v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v
        ]
        assert claims == [{"claimName": "nerflow-cache"}]
        assert gpu.parameters["work_dir"].startswith("/cache/")

        # (b) A process worker runs the process deployment (tiny model, temporary store).
        config = tiny_config(tmp_path, tiny_model_dir, CONLL_DIR, "worker-ner")
        process = api.read_deployment_by_name("train-ner/nightly-retrain-process")
        run = api.create_flow_run_from_deployment(
            process.id, parameters=retraining_parameters(config)
        )
        log = tmp_path / "worker.log"
        worker = [PREFECT, "worker", "start", "--pool", "nerflow-process", "--run-once"]
        with running(worker, env, log) as started:
            started.wait(timeout=150)
        finished = api.read_flow_run(run.id)
        assert finished.state_type == StateType.COMPLETED, log_tail(log)
    mlflow, model = registry(config)
    assert versions(mlflow, model) == ["1"]
    assert flow_run_of(mlflow, mlflow.get_model_version(model, "1")) == str(run.id)
    assert aliases(mlflow, model) == {"champion": "1"}


def rendered_job(template: dict[str, Any], deployment: Any) -> dict[str, Any]:
    """The Kubernetes pod spec a worker would submit: template defaults, then job variables."""
    from prefect.utilities.templating import apply_values

    variables = template["variables"]["properties"]
    values = {name: spec["default"] for name, spec in variables.items() if "default" in spec}
    values.update(deployment.job_variables)
    manifest = apply_values(template["job_configuration"], values)["job_manifest"]
    return dict(manifest["spec"]["template"]["spec"])


def cli(command: list[str], env: dict[str, str]) -> None:
    """Run a Prefect CLI command from the project root; fail with its output."""
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
