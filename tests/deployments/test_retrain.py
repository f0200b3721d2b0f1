"""The retraining deployment as defined in code: schedule, limit, parameters; bad input refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from nerflow.deployments.retrain import (
    concurrency,
    definitions,
    retraining_deployment,
    retraining_parameters,
    retraining_schedule,
    serve_retraining,
)
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.settings import PREFECT_API_URL, temporary_settings

from nerflow.config import DataConfig, RunConfig


@pytest.fixture(autouse=True)
def _no_tracking_uri_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # mlflow.set_tracking_uri (called by any flow run in this process) exports it.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_the_default_deployment_is_nightly_in_utc_one_run_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    deployment = retraining_deployment(RunConfig())
    (schedule,) = deployment.schedules or []
    assert getattr(schedule.schedule, "cron", None) == "0 2 * * *"
    assert getattr(schedule.schedule, "timezone", None) == "UTC"
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    assert deployment.tags == ["nerflow", "retraining", "btc-ner"]
    assert deployment.description is not None and "promotion gate" in deployment.description
    assert deployment.entrypoint == "nerflow.flows.train_ner.train_ner"
    assert deployment.name == "nightly-retrain"
    assert RunConfig.model_validate(deployment.parameters) is not None


def test_parameters_pin_paths_and_the_store_so_any_working_directory_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = RunConfig(
        data=DataConfig(source="conll", local_dir=Path("corpus")), work_dir=Path("cache")
    )
    parameters = retraining_parameters(config)
    assert parameters["work_dir"] == str(tmp_path / "cache")
    assert parameters["data"]["local_dir"] == str(tmp_path / "corpus")
    assert parameters["data"]["incoming_dir"] == str(tmp_path / "data" / "incoming")
    assert (
        parameters["tracking"]["tracking_uri"] == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    )
    assert RunConfig.model_validate(parameters).work_dir == tmp_path / "cache"
    given = config.model_copy(
        update={"tracking": config.tracking.model_copy(update={"tracking_uri": "http://h:5000"})}
    )
    assert retraining_parameters(given)["tracking"]["tracking_uri"] == "http://h:5000"


def test_schedule_and_collision_options() -> None:
    every = retraining_schedule(interval=30, timezone="Europe/Berlin")
    assert every.interval == timedelta(seconds=30) and every.timezone == "Europe/Berlin"
    assert retraining_schedule("30 4 * * 1-5", "America/New_York").cron == "30 4 * * 1-5"
    assert concurrency("cancel-new").collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    assert concurrency("enqueue").collision_strategy == ConcurrencyLimitStrategy.ENQUEUE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"cron": "every night"}, "cron"),
        ({"interval": 0}, "positive"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retraining_schedule(**kwargs)


def test_a_bad_collision_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="enqueue or cancel-new"):
        concurrency("drop")  # type: ignore[arg-type]


def test_serving_without_a_server_fails_fast_instead_of_never_firing() -> None:
    # An ephemeral in-process server has no scheduler: the schedule would never fire.
    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(RuntimeError, match="make server"),
    ):
        serve_retraining(retraining_deployment(RunConfig()))


def test_prefect_yaml_retrains_with_its_definitions_and_no_default_twice() -> None:
    """Every scheduled deployment in prefect.yaml takes the shared definitions (which
    `nerflow serve` reads too); config defaults live in nerflow/config.py only."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text("utf-8"))
    defaults = RunConfig().model_dump(mode="json")
    facts = definitions()
    retraining = [e for e in spec["deployments"] if "schedules" in e]
    assert {e["entrypoint"] for e in retraining} == {"flows/train_ner.py:train_ner"}
    assert len(retraining) == 3
    for entry in retraining:
        assert (entry["tags"], entry["description"]) == (facts["tags"], facts["description"])
        assert entry["schedules"] == [facts["schedules"]["nightly"]]
        assert entry["concurrency_limit"] == facts["concurrency"]
        parameters = entry["parameters"]
        RunConfig.model_validate(parameters)  # a misspelt field fails here
        restated = [
            f"{section}.{name}" if isinstance(values, dict) else section
            for section, values in parameters.items()
            for name, value in (values.items() if isinstance(values, dict) else [(None, values)])
            if (defaults[section].get(name) if isinstance(values, dict) else defaults[section])
            == value
        ]
        assert not restated, f"{entry['name']} restates defaults: {restated}"


def test_prefect_yaml_trains_on_demand_without_a_schedule_or_a_limit() -> None:
    """train-process: runs of different configs side by side on a pool, none by a clock."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text("utf-8"))
    [entry] = [e for e in spec["deployments"] if e["name"] == "train-process"]
    assert entry["entrypoint"] == "flows/train_ner.py:train_ner"
    assert "schedules" not in entry and "concurrency_limit" not in entry
    RunConfig.model_validate(entry["parameters"])


def test_prefect_yaml_tunes_without_a_schedule_or_a_limit() -> None:
    """The tuning deployment: one more worker of the study per run, none started by a clock."""
    import yaml

    from nerflow.tuning.config import TuneConfig

    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text("utf-8"))
    [tune] = [e for e in spec["deployments"] if e["entrypoint"] == "flows/tune_ner.py:tune_ner"]
    assert "schedules" not in tune and "concurrency_limit" not in tune
    parameters = dict(tune["parameters"])
    TuneConfig.model_validate(parameters.pop("tune", {}))
    RunConfig.model_validate(parameters)
