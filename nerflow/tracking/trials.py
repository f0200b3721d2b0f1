"""A study in MLflow: one parent run per study (space, table, figures), a child per trial."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerflow.config import TrackingConfig
from nerflow.tracking import names
from nerflow.tracking.contents import log_history
from nerflow.tracking.names import OWNER_TAG, STUDY_TAG, TRIAL_STATE_TAG, TRIAL_TAG
from nerflow.tracking.provenance import code_tags, this_process
from nerflow.tracking.store import client as _client
from nerflow.tracking.store import experiment_id, resolve_tracking_uri
from nerflow.training.meta import read_training_meta

#: How each trial state ends its run (a pruned trial was stopped on purpose: KILLED).
_RUN_STATUS = {"complete": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}


@dataclass(frozen=True)
class StudyRuns:
    """The study's parent run and where its trial runs go."""

    uri: str
    experiment_id: str
    parent_run_id: str
    study: str

    @classmethod
    def open(cls, tracking: TrackingConfig, study: str, params: dict[str, str]) -> StudyRuns:
        """The study's parent run: found by its tag when resuming, else created."""
        uri, artifact_location = resolve_tracking_uri(tracking.tracking_uri)
        experiment = experiment_id(uri, tracking.experiment, artifact_location)
        client = _client(uri)
        found = client.search_runs(
            [experiment],
            filter_string=f"tags.`{STUDY_TAG}` = '{study}' and tags.`{TRIAL_TAG}` = 'study'",
            max_results=1,
        )
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
        else:
            tags = {STUDY_TAG: study, TRIAL_TAG: "study", OWNER_TAG: this_process(), **code_tags()}
            run_id = client.create_run(experiment, tags=tags, run_name=f"study {study}").info.run_id
            client.log_batch(run_id, params=_params(params))
        return cls(uri, experiment, run_id, study)

    def start_trial(self, number: int, values: dict[str, Any]) -> str:
        """A child run for trial `number`, its values as params."""
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        tags = {
            MLFLOW_PARENT_RUN_ID: self.parent_run_id, STUDY_TAG: self.study, TRIAL_TAG: str(number),
            OWNER_TAG: this_process(), TRIAL_STATE_TAG: "running",
        }  # fmt: skip
        client = _client(self.uri)
        run = client.create_run(self.experiment_id, tags=tags, run_name=f"trial {number}")
        client.log_batch(run.info.run_id, params=_params({k: str(v) for k, v in values.items()}))
        return str(run.info.run_id)

    def finish_trial(
        self,
        run_id: str,
        state: str,
        score: float | None,
        model_dir: Path | None = None,
        logged_entries: int = 0,
    ) -> None:
        """End a trial's run: the curves it did not stream, its score, its state."""
        client = _client(self.uri)
        if model_dir is not None:  # all its curves when its model was a cache hit
            meta = read_training_meta(model_dir)
            history = meta.log_history[logged_entries:]
            log_history(run_id, history, meta.system_samples, self.uri)
        if score is not None:
            client.log_metric(run_id, names.VAL_F1, round(score, 4), step=0)
        client.set_tag(run_id, TRIAL_STATE_TAG, state)
        client.set_terminated(run_id, status=_RUN_STATUS[state])

    def close(
        self, rows: list[dict[str, Any]], figures: list[Path], best: dict[str, Any] | None
    ) -> None:
        """The study's table, figures and best trial on the parent run, which then ends."""
        client = _client(self.uri)
        states = [row["state"] for row in rows]
        metrics = {
            f"{names.TRIALS_PREFIX}{state}": float(states.count(state))
            for state in ("complete", "pruned", "failed")
        }
        if best is not None:
            metrics[names.BEST_VAL_F1] = round(best["val_f1"], 4)
            client.set_tag(self.parent_run_id, names.BEST_TRIAL_TAG, str(best["trial"]))
            for name, value in best["params"].items():
                client.set_tag(
                    self.parent_run_id, f"{names.BEST_PARAM_TAG_PREFIX}{name}", str(value)
                )
        for name, value in metrics.items():
            client.log_metric(self.parent_run_id, name, value, step=0)
        client.log_text(self.parent_run_id, json.dumps(rows, indent=2), "study/trials.json")
        for figure in figures:
            client.log_artifact(self.parent_run_id, str(figure), names.FIGURES_DIR)
        client.set_terminated(self.parent_run_id, status="FINISHED")

    def record_version(self, model: str, version: str, decision: str) -> None:
        """Which registered version the best trial became, and the gate's decision."""
        client = _client(self.uri)
        client.set_tag(self.parent_run_id, names.BEST_VERSION_TAG, f"{model} v{version}")
        client.set_tag(self.parent_run_id, names.BEST_VERSION_DECISION_TAG, decision)


def _params(values: dict[str, str]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(name, value[:6000]) for name, value in values.items()]
