"""`nerflow train`, `serve` and `tune`: one training run now, retraining on a schedule, or an
Optuna study of training settings with its best trial registered."""

from __future__ import annotations

from typing import Annotated, Any, cast

import typer

from nerflow.cli.options import (
    ConfigFile,
    ConfigOption,
    JsonOut,
    Overrides,
    config_or_exit,
    fail,
    fields,
    run_flow,
    section_or_exit,
    with_config_options,
)
from nerflow.deployments.retrain import DEPLOYMENT_NAME
from nerflow.orchestration.process import apply_prefect_defaults
from nerflow.tuning.config import TuneConfig

#: The config fields `nerflow train` takes as options.
TRAIN_OPTIONS = {
    **fields("data", "source", "incoming_dir", "max_length", "mention_convention",
             data_dir="local_dir", hub_dataset="hub_id"),
    "label_all_subwords": ConfigOption(
        "data", "label_all_subwords", "--label-all-subwords/--label-first-subword"
    ),
    **fields("model", "base_model", "train_last_layers"),
    **fields("training", "epochs", "max_steps", "learning_rate", "batch_size",
             "max_tokens_per_batch", "seed", "device", "precision", "processes"),
    **fields("tracking", "experiment", "registered_model", "tracking_uri", "promotion_margin",
             "max_type_f1_drop"),
    **fields(None, "work_dir", "shared_dir"),
}  # fmt: skip
#: The config fields `nerflow serve` takes as options.
SERVE_OPTIONS = {
    name: TRAIN_OPTIONS[name]
    for name in ("data_dir", "incoming_dir", "base_model", "tracking_uri", "work_dir", "shared_dir")
}


@with_config_options(TRAIN_OPTIONS)
def train(
    config: ConfigFile = None,
    json_out: JsonOut = None,
    *,
    overrides: Overrides,
) -> None:
    """Run the training flow and print validation/test entity scores and the registered version."""
    run_flow("train_ner", _render, json_out, **dict(config_or_exit(config, overrides)))


def _render(summary: dict[str, Any]) -> str:
    from nerflow.reporting.summary import RunSummary, format_summary

    return "\n" + format_summary(RunSummary.model_validate(summary))


@with_config_options(SERVE_OPTIONS)
def serve(
    config: ConfigFile = None,
    cron: Annotated[
        str | None, typer.Option(help="when to retrain (cron) [prefect.yaml's nightly schedule]")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA timezone of --cron [prefect.yaml's]")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="retrain every N seconds instead of --cron")
    ] = None,
    name: Annotated[str, typer.Option(help="deployment name")] = DEPLOYMENT_NAME,
    collision: Annotated[
        str | None,
        typer.Option(help="a run due while one runs: enqueue (wait) | cancel-new [prefect.yaml's]"),
    ] = None,
    *,
    overrides: Overrides,
) -> None:
    """Serve scheduled retraining (nightly by default) until Ctrl-C; needs `make server`."""
    run = config_or_exit(config, overrides)
    apply_prefect_defaults()
    from nerflow.deployments.retrain import (
        Collision,
        require_server,
        retraining_deployment,
        retraining_schedule,
        serve_retraining,
    )

    try:
        schedule = retraining_schedule(cron, timezone, interval)
        deployment = retraining_deployment(run, schedule, name, cast("Collision | None", collision))
        require_server()
    except (ValueError, RuntimeError) as exc:
        fail(exc, code=2)
    serve_retraining(deployment)


#: `nerflow train`'s options, and the study's own ([tune] table).
TUNE_OPTIONS = TRAIN_OPTIONS | fields("tune", "trials", "study", "storage", "timeout_minutes")


@with_config_options(TUNE_OPTIONS)
def tune(
    config: ConfigFile = None,
    json_out: JsonOut = None,
    *,
    overrides: Overrides,
) -> None:
    """Search the config's tune.space on validation F1 (resumable), then train, register and
    gate the best trial's recipe like `nerflow train`."""
    run = config_or_exit(config, overrides)
    settings = section_or_exit(TuneConfig, config, overrides)
    run_flow("tune_ner", format_result, json_out, **dict(run), tune=settings)


def format_result(result: dict[str, Any]) -> str:
    """What the study found and what became of it, in a few lines."""
    best = result["best"]
    lines = [f"study {result['study']}: {result['trials_run']} trials run now"]
    if best is None:
        return "\n".join([*lines, "no trial completed: nothing registered"])
    lines.append(f"best trial {best['trial']}: validation entity F1 {best['val_f1']:.3f}")
    lines += [f"  {name} = {value}" for name, value in best["params"].items()]
    lines.append(
        f"trained on its settings: validation F1 {best['val_f1']:.3f}, "
        f"test F1 {best['test_f1']:.3f}; {best['registered_model']} v{best['version']}: "
        f"{best['promotion']} ({best['reason']})"
    )
    return "\n".join(lines)
