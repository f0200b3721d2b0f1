"""`nerflow tune`: an Optuna study of training settings, its best trial registered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nerflow.cli.options import (
    ConfigFile,
    Overrides,
    config_or_exit,
    finish_flow_command,
    start_flow_command,
    with_config_options,
)
from nerflow.cli.train import TRAIN_OPTIONS


@with_config_options(TRAIN_OPTIONS)
def tune(
    config: ConfigFile = None,
    trials: Annotated[
        int | None, typer.Option(help="finished trials the study should have (tune.trials)", min=1)
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name; the same name resumes")] = None,
    storage: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL of the study [optuna.db beside MLflow's]")
    ] = None,
    timeout_minutes: Annotated[
        float | None, typer.Option(help="start no trial after this long", min=0)
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the result as JSON here")
    ] = None,
    *,
    overrides: Overrides,
) -> None:
    """Search the config's tune.space on validation F1 (resumable), then train, register and
    gate the best trial's recipe like `nerflow train`."""
    from nerflow.tuning.config import read_tune_config

    run = config_or_exit(config, overrides)
    try:
        given: dict[str, Any] = {"trials": trials, "study": study, "storage": storage}
        given["timeout_minutes"] = timeout_minutes
        base = read_tune_config(config)
        settings = base.model_validate(
            {**base.model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
    except ValueError as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    start_flow_command()
    from nerflow.flows.tune_ner import tune_ner
    from nerflow.orchestration.logs import tracebacks_to_run_logs_only
    from nerflow.orchestration.process import remember_flow_run

    with tracebacks_to_run_logs_only():
        state = tune_ner.with_options(on_running=[remember_flow_run])(
            data=run.data, model=run.model, training=run.training, tracking=run.tracking,
            tune=settings, work_dir=run.work_dir, shared_dir=run.shared_dir, return_state=True,
        )  # fmt: skip
    finish_flow_command(state, format_result, json_out)


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
