"""A 3-trial study of the tiny BERT, end to end: Optuna in SQLite, parent and child runs in
MLflow, a pruned trial, a Ctrl-C in the middle and the resume, the best trial registered."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from nerflow.flows.tune_ner import tune_ner
from prefect.testing.utilities import prefect_test_harness

from nerflow.tuning.config import SearchParam, TuneConfig
from tests.conftest import CONLL_DIR, tiny_run_config


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def memorisable_corpus(root: Path) -> Path:
    """The fixture tweets, with validation = train."""
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CONLL_DIR / "train.conll", corpus / "train.conll")
    # The same tweets in reverse order (an identical file would be dropped as a duplicate).
    tweets = (CONLL_DIR / "train.conll").read_text(encoding="utf-8").strip().split("\n\n")
    (corpus / "validation.conll").write_text("\n\n".join(tweets[::-1]) + "\n", encoding="utf-8")
    shutil.copy(CONLL_DIR / "test.conll", corpus / "test.conll")
    return corpus


def test_a_study_prunes_resumes_after_ctrl_c_and_registers_its_best_trial(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    config = tiny_run_config(
        tiny_model_dir, uri, "tune-exp", "tune-ner", tmp_path / "work",
        corpus=memorisable_corpus(tmp_path),
    )  # fmt: skip
    # On 10 tweets the tiny BERT keeps its random-init score (F1 about 0.15 here) at a tiny
    # learning rate and falls to predicting no entity (F1 0) at a large one: a trial at the
    # large rate, or at another seed, scores below the baseline's first epoch: pruned.
    training = config.training.model_copy(
        update={"max_steps": None, "epochs": 2.0, "batch_size": 2, "learning_rate": 1e-7}
    )
    tune = TuneConfig(
        study="tiny", trials=3, startup_trials=1, warmup_evaluations=0, sampler_seed=3,
        space={
            "training.learning_rate": SearchParam(choices=(1e-7, 3e-2)),
            "training.seed": SearchParam(choices=(42, 7)),
        },
    )  # fmt: skip
    arguments = dict(
        data=config.data, model=config.model, training=training, tracking=config.tracking,
        tune=tune, work_dir=config.work_dir,
    )  # fmt: skip

    # Ctrl-C during trial 1's training: the study keeps what finished.
    from nerflow.tuning import trial

    original = trial.PruneOnValidation.on_evaluate

    def interrupted(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.trial.number == 1:
            raise KeyboardInterrupt
        return original(self, args, state, control, metrics=metrics, **kwargs)

    monkeypatch.setattr(trial.PruneOnValidation, "on_evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tune_ner(**arguments)
    monkeypatch.setattr(trial.PruneOnValidation, "on_evaluate", original)

    storage = f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"  # beside the MLflow store
    study = optuna.load_study(study_name="tiny", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL"]
    assert study.trials[0].user_attrs["baseline"] is True  # the configured recipe went first

    result = tune_ner(**arguments)
    assert result["trials_run"] == 2  # the interrupted trial again, and one more

    study = optuna.load_study(study_name="tiny", storage=storage)
    trials = study.trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3 and trials[1].state.name == "FAIL"
    # The interrupted trial ran again with its values.
    [retry] = [t for t in trials if t.user_attrs.get("retry_of") == 1]
    assert retry.params == trials[1].params
    assert any(t.state.name == "PRUNED" for t in trials), [t.params for t in trials]
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best.value > 0 and all(t.value < best.value for t in trials if t.state.name == "PRUNED")

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tune-exp")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    [parent] = [r for r in runs if r.data.tags.get("nerflow.trial") == "study"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(int(r.data.tags["nerflow.trial"]) for r in children) == [t.number for t in trials]
    by_state = {r.data.tags["trial_state"] for r in children}
    assert by_state == {"complete", "pruned", "failed"}
    for child in children:
        assert set(child.data.params) == {"training.learning_rate", "training.seed"}
    pruned = next(r for r in children if r.data.tags["trial_state"] == "pruned")
    assert pruned.info.status == "KILLED"
    assert client.get_metric_history(pruned.info.run_id, "val_by_epoch/f1")  # its curve so far
    complete = next(r for r in children if r.data.tags["trial_state"] == "complete")
    assert len(client.get_metric_history(complete.info.run_id, "val_by_epoch/f1")) == 2
    assert parent.data.metrics["best_val_f1"] == round(best.value, 4)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "figures")}
    assert "figures/optimization_history.png" in artifacts
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "study")} == {
        "study/trials.json"
    }
    # The best recipe was trained (a cache hit), registered and judged by the gate.
    assert result["best"]["version"] == "1" and result["best"]["promotion"] == "first-champion"
    assert str(client.get_model_version_by_alias("tune-ner", "champion").version) == "1"
    assert parent.data.tags["best_version"] == "tune-ner v1"
