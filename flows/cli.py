"""The `nerflow` command line: builds the typed configs and runs the flows."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tasks.config import DEFAULT_BASE_MODEL, RunConfig

app = typer.Typer(
    help="Fine-tune, track and register NER models on the Broad Twitter Corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _commands() -> None:
    """Fine-tune, track and register NER models on the Broad Twitter Corpus."""


def _overrides(**sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keep only the options the user actually gave, so a config file's values stand otherwise."""
    return {
        name: {k: v for k, v in values.items() if v is not None}
        for name, values in sections.items()
    }


def build_config(
    config_file: Path | None, overrides: dict[str, dict[str, Any]], work_dir: Path | None
) -> RunConfig:
    """The run's config: defaults, then the TOML file, then command-line options."""
    raw: dict[str, Any] = {}
    if config_file is not None:
        raw = RunConfig.from_toml(config_file).model_dump(exclude_unset=True)
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    if work_dir is not None:
        raw["work_dir"] = work_dir
    return RunConfig.model_validate(raw)


@app.command()
def train(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file with [data] [model] [training] [tracking]",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    source: Annotated[str | None, typer.Option(help="btc | hub | conll")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="local corpus (btc: the six section files; conll: train/validation/test files)"
        ),
    ] = None,
    hub_dataset: Annotated[
        str | None, typer.Option(help="hub dataset id (source=hub, online only)")
    ] = None,
    max_length: Annotated[int | None, typer.Option(help="sub-words per tweet [128]")] = None,
    label_all_subwords: Annotated[
        bool | None,
        typer.Option(
            "--label-all-subwords/--label-first-subword",
            help="label every sub-word, not just the first",
        ),
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help=f"hub id or local model folder [{DEFAULT_BASE_MODEL}]")
    ] = None,
    train_last_layers: Annotated[
        int | None, typer.Option(help="freeze all but the last N encoder layers")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="[3]")] = None,
    max_steps: Annotated[int | None, typer.Option(help="stop after N optimizer steps")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="[1e-4]")] = None,
    batch_size: Annotated[int | None, typer.Option(help="[32]")] = None,
    seed: Annotated[int | None, typer.Option(help="[42]")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda")] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment [btc-ner]")] = None,
    registered_model: Annotated[
        str | None, typer.Option(help="registered model name [btc-ner]")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI [sqlite under ./mlruns]")
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="cache folder for datasets and models [.nerflow]")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the summary as JSON here")
    ] = None,
) -> None:
    """Run the training flow and print validation/test entity scores and the registered version."""
    try:
        run = build_config(
            config,
            _overrides(
                data={
                    "source": source,
                    "local_dir": data_dir,
                    "hub_id": hub_dataset,
                    "max_length": max_length,
                    "label_all_subwords": label_all_subwords,
                },
                model={"base_model": base_model, "train_last_layers": train_last_layers},
                training={
                    "epochs": epochs,
                    "max_steps": max_steps,
                    "learning_rate": learning_rate,
                    "batch_size": batch_size,
                    "seed": seed,
                    "device": device,
                },
                tracking={
                    "experiment": experiment,
                    "registered_model": registered_model,
                    "tracking_uri": tracking_uri,
                },
            ),
            work_dir,
        )
    except (ValidationError, ValueError) as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from flows.train_ner import train_ner
    from tasks.summarize_run import format_summary

    summary = train_ner(
        data=run.data,
        model=run.model,
        training=run.training,
        tracking=run.tracking,
        work_dir=run.work_dir,
    )
    typer.echo("\n" + format_summary(summary))
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2), encoding="utf-8")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nerflow")


if __name__ == "__main__":
    main()
