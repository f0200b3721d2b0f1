"""End to end: the flow on fixture tweets with a tiny BERT, under Prefect's test harness."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect import get_client
from prefect.testing.utilities import prefect_test_harness

from nerflow.config import DataConfig, ModelConfig, TrackingConfig
from nerflow.inference.mentions import CONFIG_ATTRIBUTE
from nerflow.tracking.store import active_store
from tests.conftest import CONLL_DIR, tiny_run_config


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def run_flow(tmp_path: Path, tiny_model_dir: Path, **training: object) -> tuple[dict, list]:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir(exist_ok=True)
    config = tiny_run_config(
        tiny_model_dir, uri, "test-exp", "test-ner", tmp_path / "work", **training
    )
    state = train_ner(**dict(config), return_state=True)
    assert state.is_completed(), state.message
    task_states = [s for s in _task_states(state)]
    return state.result(), task_states


def _task_states(flow_state) -> list:
    """The flow run's task runs, once each has its final state recorded (written async)."""
    import time

    from prefect import get_client

    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs()
        mine = [r for r in runs if r.flow_run_id == flow_state.state_details.flow_run_id]
        if all(r.state is not None and r.state.is_final() for r in mine) or (
            time.monotonic() > deadline
        ):
            return mine
        time.sleep(0.5)


def test_flow_registers_a_model_and_a_rerun_hits_every_cache(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    summary, _ = run_flow(tmp_path, tiny_model_dir)
    ml = summary["mlflow"]
    assert ml["version"] == "1" and not ml["reused"]
    client = MlflowClient(tracking_uri=ml["tracking_uri"], registry_uri=ml["tracking_uri"])
    run = client.get_run(ml["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["training.max_steps"] == "4"
    assert run.data.params["data.source"] == "conll"
    assert run.data.tags["prefect.flow_run_id"]
    for name in (
        "val_f1", "test_f1", "val_PER_f1", "test_LOC_recall", "test_token_weighted_f1",
        "val_names_f1", "test_names_f1",
    ):  # fmt: skip
        assert 0.0 <= run.data.metrics[name] <= 1.0
    assert client.get_metric_history(ml["run_id"], "train/loss")
    assert client.get_metric_history(ml["run_id"], "val_by_epoch/f1")
    version = client.get_model_version("test-ner", "1")
    assert version.run_id == ml["run_id"]
    assert {"nerflow.model_key", "nerflow.data_fingerprint", "val_f1", "test_f1"} <= set(
        version.tags
    )
    artifacts = {a.path for a in client.list_artifacts(ml["run_id"])}
    assert {"evaluation", "data", "figures"} <= artifacts
    figures = {a.path: a.file_size for a in client.list_artifacts(ml["run_id"], "figures")}
    assert set(figures) == {
        "figures/learning_curves.png", "figures/per_type_scores.png",
        "figures/confusion_validation.png", "figures/confusion_test.png",
        "figures/f1_vs_training_tweets.png",
    }  # fmt: skip
    assert all(size > 5000 for size in figures.values())
    evaluation = {a.path for a in client.list_artifacts(ml["run_id"], "evaluation")}
    assert "evaluation/classification_report_test.txt" in evaluation
    assert "evaluation/validation_samples_errors_first.json" in evaluation
    assert run.info.run_name.startswith("tiny-bert") and "-4steps-data" in run.info.run_name
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    for stage in ("download", "tokenize", "train", "evaluate", "log"):
        assert run.data.metrics[f"walltime/{stage}_s"] > 0
    assert run.data.metrics["train/mean_loss"] > 0
    # System samples from the start of training (step 0) to its last step.
    samples = client.get_metric_history(ml["run_id"], "system/rss_mb")
    assert {m.step for m in samples} == {0, 4}
    # No metric repeats another: the Trainer's final eval_* are the per-epoch curve's last
    # point, its runtime is walltime/train_s.
    assert not [m for m in run.data.metrics if m.startswith(("eval_", "summary_"))]
    # The run was opened when training started and watched it (its id left beside the
    # model), then completed by the logging step; its curves carry their real times.
    live = json.loads((Path(summary["model_dir"]) / "live_run.json").read_text())
    assert live["run_id"] == ml["run_id"]
    assert run.info.start_time <= min(
        m.timestamp for m in client.get_metric_history(ml["run_id"], "train/loss")
    )
    note = run.data.tags["mlflow.note.content"]
    assert "| validation | overall |" in note and "**Promotion**: `first-champion`" in note
    described = client.get_model_version("test-ner", "1").description
    assert "**Promotion**: `first-champion`" in described and "# NER model" in described
    assert client.get_registered_model("test-ner").description.startswith("NER tagger")
    # The logged model says what it returns: per text, a list of spans.
    from mlflow.models import get_model_info

    with active_store(ml["tracking_uri"]):
        outputs = get_model_info("models:/test-ner/1").signature.outputs.to_dict()
    [spans] = outputs
    assert spans["type"] == "array" and set(spans["items"]["properties"]) == {
        "type", "text", "start", "end", "score",
    }  # fmt: skip
    assert (
        "champion set here by prefect flow run"
        in client.get_model_version("test-ner", "1").tags["alias_history"]
    )
    check_prefect_artifacts(summary_flow_run_id(run))
    assert summary["scores"]["test"]["f1"] == pytest.approx(
        run.data.metrics["test_f1"], abs=5e-5
    )  # logged to 4 decimals
    assert summary["promotion"]["action"] == "first-champion"
    check_logged_model(ml["tracking_uri"])
    assert str(client.get_model_version_by_alias("test-ner", "champion").version) == "1"

    again, task_runs = run_flow(tmp_path, tiny_model_dir)
    assert again["mlflow"]["reused"] and again["mlflow"]["version"] == "1"
    assert again["mlflow"]["run_id"] == ml["run_id"]
    states = {r.name.rsplit("-", 1)[0]: r.state.name for r in task_runs}
    assert states["gather-corpus"] == "Cached"
    assert states["tokenize-dataset"] == "Cached"
    assert states["train-model"] == "Cached"
    assert states["evaluate-model"] == "Cached"
    assert len(client.search_model_versions("name='test-ner'")) == 1
    assert again["promotion"]["action"] == "unchanged"
    with get_client(sync_client=True) as prefect:
        rerun = prefect.read_flow_run(task_runs[0].flow_run_id)
    assert rerun.name.startswith("cached-v1-data-") and "cached" in rerun.tags


def test_the_mention_convention_is_part_of_the_data_version(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    first, _ = run_flow(tmp_path, tiny_model_dir)
    uri = first["mlflow"]["tracking_uri"]
    config = tiny_run_config(tiny_model_dir, uri, "test-exp", "test-ner", tmp_path / "work")
    data = config.data.model_copy(update={"mention_convention": "as-labelled"})
    state = train_ner(**dict(config.model_copy(update={"data": data})), return_state=True)
    assert state.is_completed(), state.message
    second = state.result()
    states = {r.name.rsplit("-", 1)[0]: r.state.name for r in _task_states(state)}
    assert states["gather-corpus"] == states["train-model"] == "Completed"
    assert second["mlflow"]["data_fingerprint"] != first["mlflow"]["data_fingerprint"]
    for summary, convention in ((first, "mention-o"), (second, "as-labelled")):
        model_config = json.loads((Path(summary["model_dir"]) / "config.json").read_text())
        assert model_config[CONFIG_ATTRIBUTE] == convention
        run = MlflowClient(uri).get_run(summary["mlflow"]["run_id"])
        assert run.data.params["data.mention_convention"] == convention
        assert convention in summary["mlflow"]["data"]  # the data's name on the version


def test_a_deleted_cached_model_is_trained_again(tmp_path: Path, tiny_model_dir: Path) -> None:
    first, _ = run_flow(tmp_path, tiny_model_dir, seed=7)
    shutil.rmtree(first["model_dir"])
    second, task_runs = run_flow(tmp_path, tiny_model_dir, seed=7)
    states = {r.name.rsplit("-", 1)[0]: r.state.name for r in task_runs}
    assert states["train-model"] == "Completed"
    assert states["gather-corpus"] == "Cached"
    assert Path(second["model_dir"]).is_dir()
    # same data, config and seed: the same model key, so the registry is not duplicated
    assert second["mlflow"]["version"] == first["mlflow"]["version"]


def test_a_bad_base_model_fails_the_flow_and_registers_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    state = train_ner(
        data=DataConfig(source="conll", local_dir=CONLL_DIR),
        model=ModelConfig(base_model=str(tmp_path / "no-such-model")),
        tracking=TrackingConfig(tracking_uri=uri, registered_model="test-ner"),
        work_dir=tmp_path / "work",
        return_state=True,
    )
    assert state.is_failed()
    assert "no-such-model" in str(state.message) or "no-such-model" in repr(
        state.result(raise_on_failure=False)
    )
    assert not (tmp_path / "work" / "models").exists()


def check_logged_model(uri: str) -> None:
    """Plain MLflow loads the registered model as spans; transformers reads its files as is."""
    import mlflow
    from transformers import pipeline

    from nerflow.tracking.store import active_store

    text = "Tim Cook visits Berlin"
    with active_store(uri):
        spans = mlflow.pyfunc.load_model("models:/test-ner@champion").predict([text, ""])
        local = Path(mlflow.artifacts.download_artifacts("models:/test-ner/1"))
    assert len(spans) == 2 and spans[1] == []
    for span in spans[0]:
        assert set(span) == {"type", "text", "start", "end", "score"}
        assert text[span["start"] : span["end"]] == span["text"]
    # The model carries nerflow's inference package and nothing else of nerflow.
    shipped = {p.relative_to(local / "code").as_posix() for p in (local / "code").rglob("*.py")}
    assert "nerflow/inference/pyfunc.py" in shipped
    assert all(name.startswith("nerflow/inference/") for name in shipped - {"nerflow/__init__.py"})
    files = local / "data" / "model"
    assert pipeline("token-classification", model=str(files)).task == "token-classification"
    card = (files / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in card and "| test | PER |" in card
    from typer.testing import CliRunner

    from nerflow.cli import app

    cli = CliRunner().invoke(
        app,
        ["predict", text, "--model", "models:/test-ner@champion", "--tracking-uri", uri,
         "--max-length", "32"],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout.strip().splitlines()[-1])["entities"] == spans[0]


def summary_flow_run_id(run) -> str:
    return run.data.tags["prefect.flow_run_id"]


def check_prefect_artifacts(flow_run_id: str) -> None:
    """The flow run carries its markdown report, per-type table and training progress."""
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
            )
        )
    by_key = {a.key: a for a in artifacts}
    assert {"ner-run-report", "ner-per-type-scores", "training-progress"} <= set(by_key)
    assert "| test | PER |" in str(by_key["ner-run-report"].data)
    assert "/#/models/test-ner/versions/1?workflowType=machine_learning)" in str(
        by_key["ner-run-report"].data
    )
    assert float(by_key["training-progress"].data) == 100.0
    with get_client(sync_client=True) as client:
        labelled = client.read_flow_run(UUID(flow_run_id))
    assert labelled.name.startswith("retrained-v1-first-champion-data-"), labelled.name
    assert {"retrained", "model:v1", "gate:first-champion"} <= set(labelled.tags)
