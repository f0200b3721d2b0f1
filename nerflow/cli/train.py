"""`nerflow train` and `nerflow serve`: one training run now, or retraining on a schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from nerflow.cli.options import (
    TRACKING_URI,
    ConfigFile,
    ConfigOption,
    Overrides,
    config_or_exit,
    fail,
    finish_flow_command,
    start_flow_command,
    with_config_options,
)
from nerflow.deployments.retrain import DEFAULT_CRON, DEFAULT_TIMEZONE, DEPLOYMENT_NAME
from nerflow.orchestration.settings import apply_prefect_defaults

#: The config fields `nerflow train` takes as options (name: field).
TRAIN_OPTIONS = {
    "source": ConfigOption("data", "source"),
    "data_dir": ConfigOption("data", "local_dir"),
    "hub_dataset": ConfigOption("data", "hub_id"),
    "incoming_dir": ConfigOption("data", "incoming_dir"),
    "max_length": ConfigOption("data", "max_length"),
    "label_all_subwords": ConfigOption(
        "data", "label_all_subwords", "--label-all-subwords/--label-first-subword"
    ),
    "base_model": ConfigOption("model", "base_model"),
    "train_last_layers": ConfigOption("model", "train_last_layers"),
    "epochs": ConfigOption("training", "epochs"),
    "max_steps": ConfigOption("training", "max_steps"),
    "learning_rate": ConfigOption("training", "learning_rate"),
    "batch_size": ConfigOption("training", "batch_size"),
    "max_tokens_per_batch": ConfigOption("training", "max_tokens_per_batch"),
    "seed": ConfigOption("training", "seed"),
    "device": ConfigOption("training", "device"),
    "precision": ConfigOption("training", "precision"),
    "processes": ConfigOption("training", "processes"),
    "experiment": ConfigOption("tracking", "experiment"),
    "registered_model": ConfigOption("tracking", "registered_model"),
    "tracking_uri": TRACKING_URI,
    "promotion_margin": ConfigOption("tracking", "promotion_margin"),
    "max_type_f1_drop": ConfigOption("tracking", "max_type_f1_drop"),
    "work_dir": ConfigOption(None, "work_dir"),
    "shared_dir": ConfigOption(None, "shared_dir"),
}
#: The config fields `nerflow serve` takes as options.
SERVE_OPTIONS = {
    name: TRAIN_OPTIONS[name]
    for name in ("data_dir", "incoming_dir", "base_model", "tracking_uri", "work_dir", "shared_dir")
}


@with_config_options(TRAIN_OPTIONS)
def train(
    config: ConfigFile = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the summary as JSON here")
    ] = None,
    *,
    overrides: Overrides,
) -> None:
    """Run the training flow and print validation/test entity scores and the registered version."""
    run = config_or_exit(config, overrides)
    start_flow_command()
    from nerflow.flows.train_ner import train_ner
    from nerflow.orchestration.logs import tracebacks_to_run_logs_only
    from nerflow.orchestration.process import remember_flow_run
    from nerflow.reporting.summary import format_summary

    with tracebacks_to_run_logs_only():
        state = train_ner.with_options(on_running=[remember_flow_run])(
            data=run.data,
            model=run.model,
            training=run.training,
            tracking=run.tracking,
            work_dir=run.work_dir,
            shared_dir=run.shared_dir,
            return_state=True,
        )
    finish_flow_command(state, lambda summary: "\n" + format_summary(summary), json_out)


@with_config_options(SERVE_OPTIONS)
def serve(
    config: ConfigFile = None,
    cron: Annotated[str, typer.Option(help="when to retrain (cron)")] = DEFAULT_CRON,
    timezone: Annotated[str, typer.Option(help="IANA timezone of --cron")] = DEFAULT_TIMEZONE,
    interval: Annotated[
        float | None, typer.Option(help="retrain every N seconds instead of --cron")
    ] = None,
    name: Annotated[str, typer.Option(help="deployment name")] = DEPLOYMENT_NAME,
    collision: Annotated[
        str, typer.Option(help="a run due while one runs: enqueue (wait) | cancel-new")
    ] = "enqueue",
    *,
    overrides: Overrides,
) -> None:
    """Serve scheduled retraining (nightly by default) until Ctrl-C; needs `make server`."""
    run = config_or_exit(config, overrides)
    apply_prefect_defaults()
    from nerflow.deployments.retrain import (
        Collision,
        concurrency,
        require_server,
        retraining_schedule,
        serve_retraining,
    )

    try:
        schedule = retraining_schedule(cron, timezone, interval)
        concurrency(cast("Collision", collision))
        require_server()
    except (ValueError, RuntimeError) as exc:
        fail(exc, code=2)
    serve_retraining(run, schedule, name, cast("Collision", collision))
