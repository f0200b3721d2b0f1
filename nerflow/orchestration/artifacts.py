"""Prefect artifacts: training progress while it runs, and the run's report when it ends."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import TaskRunContext
from transformers import TrainerCallback


class PrefectProgress(TrainerCallback):
    """Keeps a Prefect progress artifact at the share of training steps done (inside a task
    run only)."""

    def __init__(self, every_steps: int = 10) -> None:
        self.every_steps = every_steps
        self.artifact_id: UUID | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the artifact at the step training starts from (non-zero when resuming)."""
        if TaskRunContext.get() is None:
            return
        created = create_progress_artifact(
            self._percent(state), key="training-progress", description="fine-tuning steps done"
        )
        self.artifact_id = cast(UUID, created)  # sync context: the call returned its id

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Move the bar every few steps (each update is an API call)."""
        if self.artifact_id is not None and state.global_step % self.every_steps == 0:
            update_progress_artifact(self.artifact_id, self._percent(state))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Say which epoch finished."""
        if self.artifact_id is not None:
            update_progress_artifact(
                self.artifact_id, self._percent(state), description=f"epoch {state.epoch:.0f} done"
            )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close at 100%."""
        if self.artifact_id is not None:
            update_progress_artifact(self.artifact_id, 100.0, description="training finished")

    @staticmethod
    def _percent(state: Any) -> float:
        return 100.0 * state.global_step / state.max_steps if state.max_steps else 0.0


def flow_run_url(flow_run_id: str) -> str | None:
    """The flow run's page in the Prefect UI, when a UI is configured."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{str(ui).rstrip('/')}/runs/flow-run/{flow_run_id}" if ui else None


def publish_run_report(markdown: str, per_type: list[dict[str, Any]], outcome: str) -> None:
    """The flow run's markdown report, per-type table and outcome line, inside a Prefect run."""
    if TaskRunContext.get() is None:
        return
    # The run's own log is what a served or worker run shows: say what happened there.
    get_run_logger().info(outcome)
    create_markdown_artifact(markdown, key="ner-run-report", description="scores and registry")
    create_table_artifact(per_type, key="ner-per-type-scores", description="entity P/R/F1")


def label_flow_run(name: str, tags: list[str]) -> None:
    """Rename the current flow run and add tags, so a list of runs says what each did."""
    from prefect import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    run = context.flow_run
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run.id).tags
        client.update_flow_run(run.id, name=name, tags=sorted({*current, *tags}))


def publish_trials_table(study: str, rows: list[dict[str, Any]]) -> None:
    """The study's trials as a Prefect table artifact (a new version after each trial)."""
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return
    key = "tune-" + "".join(c if c.isalnum() else "-" for c in study.lower()).strip("-")
    create_table_artifact(rows, key=key[:100], description=f"trials of study {study}")
