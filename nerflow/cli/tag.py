"""`nerflow tag`: a file or folder of raw tweets tagged by the registry's champion, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from nerflow.cli.options import (
    REGISTERED_MODEL,
    TRACKING_URI,
    ConfigFile,
    ConfigOption,
    Overrides,
    config_or_exit,
    finish_flow_command,
    start_flow_command,
    with_config_options,
)
from nerflow.tagging.config import TaggingConfig

#: The run-config fields `nerflow tag` takes as options (the model, the store, the cache).
TAG_OPTIONS = {
    "registered_model": REGISTERED_MODEL,
    "tracking_uri": TRACKING_URI,
    "experiment": ConfigOption("tracking", "experiment"),
    "work_dir": ConfigOption(None, "work_dir"),
    "shared_dir": ConfigOption(None, "shared_dir"),
}


def _help(field: str) -> str:
    """A tagging option's help: its field's description and default (nerflow/tagging/config.py)."""
    info = TaggingConfig.model_fields[field]
    return f"{' '.join((info.description or '').split())} [{info.default}]"


@with_config_options(TAG_OPTIONS)
def tag(
    input_path: Annotated[
        Path,
        typer.Argument(
            help='a file of tweets (one per line; .jsonl: a string or {"text": ...} per line) '
            "or a folder of .txt/.jsonl files",
            exists=True,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="the JSON lines to write, one per tweet")
    ],
    config: ConfigFile = None,
    alias: Annotated[str | None, typer.Option(help=_help("alias"))] = None,
    chunk_size: Annotated[int | None, typer.Option(help=_help("chunk_size"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_help("batch_size"))] = None,
    max_length: Annotated[int | None, typer.Option(help=_help("max_length"))] = None,
    precision: Annotated[str | None, typer.Option(help=_help("precision"))] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the summary as JSON here")
    ] = None,
    *,
    overrides: Overrides,
) -> None:
    """Tag every tweet with the registry's champion: one {"text", "spans"} JSON line per tweet.

    Logged in MLflow experiment <experiment>-tagging; a rerun reuses the chunks already tagged.
    """
    run = config_or_exit(config, overrides)
    given = {"alias": alias, "chunk_size": chunk_size, "batch_size": batch_size}
    given |= {"max_length": max_length, "precision": precision}
    try:
        tagging = TaggingConfig.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    start_flow_command()  # on SIGTERM the chunks already tagged stay for the next run
    from nerflow.flows.tag_tweets import tag_tweets
    from nerflow.orchestration.logs import tracebacks_to_run_logs_only
    from nerflow.tagging.output import format_tagging

    with tracebacks_to_run_logs_only():
        state = tag_tweets(
            input_path, output, tagging, run.tracking, run.work_dir, run.shared_dir,
            return_state=True,
        )  # fmt: skip
    finish_flow_command(state, lambda summary: "\n" + format_tagging(summary), json_out)
