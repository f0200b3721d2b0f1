"""The MLflow run of a training, opened when training starts and streamed to while it runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from nerflow.config import TrackingConfig
from nerflow.tracking import names
from nerflow.tracking.contents import log_history
from nerflow.tracking.provenance import this_process
from nerflow.tracking.store import client as _client
from nerflow.tracking.store import experiment_id, resolve_tracking_uri

logger = logging.getLogger(__name__)

#: Beside the trained model: the run that watched its training.
LIVE_RUN_FILE = "live_run.json"


class LiveMetrics(TrainerCallback):
    """Sends each Trainer log entry to the run as it is written (rank 0 only)."""

    # A store that fails once stops the streaming, never the training (logging sends the rest).
    def __init__(self, uri: str, run_id: str) -> None:
        self.uri, self.run_id = uri, run_id
        self.logged_entries = 0
        self.failed = False

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Log the entry the Trainer just added (stamped with its time by SystemSampler)."""
        if self.failed or not state.is_world_process_zero or not state.log_history:
            return
        pending = state.log_history[self.logged_entries :]
        try:
            log_history(self.run_id, pending, [], self.uri)
        except Exception as exc:
            self.failed = True
            reason = str(exc).strip().partition("\n")[0]  # not the SQL statement that failed
            logger.warning("MLflow run %s: live curves stopped (%s)", self.run_id, reason)
            return
        self.logged_entries = len(state.log_history)


@contextmanager
def live_training_run(tracking: TrackingConfig, key: str, out: Path) -> Iterator[LiveMetrics]:
    """Open the run; on success write its id into `out`, on failure end it FAILED."""
    uri, artifact_location = resolve_tracking_uri(tracking.tracking_uri)
    experiment = experiment_id(uri, tracking.experiment, artifact_location)
    tags = {names.MODEL_KEY_TAG: key, names.OWNER_TAG: this_process()}
    run = _client(uri).create_run(experiment, tags=tags, run_name=f"training {key[:8]}")
    live = LiveMetrics(uri, run.info.run_id)
    try:
        yield live
    except BaseException:
        _client(uri).set_terminated(run.info.run_id, status="FAILED")
        raise
    (out / LIVE_RUN_FILE).write_text(
        json.dumps({"run_id": run.info.run_id, "tracking_uri": uri,
                    "logged_entries": live.logged_entries}),
        encoding="utf-8",
    )  # fmt: skip


def live_run(model_dir: Path, uri: str, key: str) -> tuple[str, int] | None:
    """The unfinished run in this store that watched this model's training, and its entries."""
    from mlflow.exceptions import MlflowException

    path = model_dir / LIVE_RUN_FILE
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved["tracking_uri"] != uri:
        return None
    try:
        run = _client(uri).get_run(saved["run_id"])
    except MlflowException:
        return None
    # A completed run (params logged) belongs to its registered model: the same cached model
    # logged under another name gets a run of its own.
    if run.data.tags.get(names.MODEL_KEY_TAG) != key or run.data.params:
        return None
    return str(saved["run_id"]), int(saved["logged_entries"])
