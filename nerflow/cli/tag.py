"""`nerflow tag`: a file or folder of raw tweets tagged by the registry's champion, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nerflow.cli.options import (
    ConfigFile,
    JsonOut,
    Overrides,
    config_or_exit,
    fields,
    run_flow,
    section_or_exit,
    with_config_options,
)
from nerflow.tagging.config import TaggingConfig

#: The model, the store and the cache (run config), and how to tag ([tagging] table).
TAG_OPTIONS = {
    **fields("tracking", "registered_model", "tracking_uri", "experiment"),
    **fields(None, "work_dir", "shared_dir"),
    **fields("tagging", "alias", "chunk_size", "batch_size", "max_length", "precision"),
}


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
    json_out: JsonOut = None,
    *,
    overrides: Overrides,
) -> None:
    """Tag every tweet with the registry's champion: one {"text", "spans"} JSON line per tweet.

    Logged in MLflow experiment <experiment>-tagging; a rerun reuses the chunks already tagged.
    """
    run = config_or_exit(config, overrides)
    tagging = section_or_exit(TaggingConfig, config, overrides)
    # On SIGTERM the chunks already tagged stay for the next run.
    run_flow(
        "tag_tweets", _render, json_out, input_path=input_path, output=output, tagging=tagging,
        tracking=run.tracking, work_dir=run.work_dir, shared_dir=run.shared_dir,
    )  # fmt: skip


def _render(summary: dict[str, Any]) -> str:
    from nerflow.tagging.output import format_tagging

    return "\n" + format_tagging(summary)
