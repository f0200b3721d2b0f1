"""`nerflow ingest`: add labelled CoNLL files to the incoming folder the next run trains on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nerflow.cli.options import (
    ConfigFile,
    Overrides,
    config_or_exit,
    fail,
    fields,
    with_config_options,
)

INGEST_OPTIONS = fields("data", "incoming_dir", max_mb="max_ingest_mb")


@with_config_options(INGEST_OPTIONS)
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CoNLL files (TOKEN<TAB>TAG, IOB2)")],
    config: ConfigFile = None,
    *,
    overrides: Overrides,
) -> None:
    """Check labelled CoNLL files and add them to the incoming folder; the next run trains on
    them. A bad file is refused (file, line, value) and nothing is added."""
    from nerflow.corpus.incoming import ingest as add

    run = config_or_exit(config, overrides)
    folder = run.data.incoming_dir
    if folder is None:
        fail("no incoming folder configured (data.incoming_dir is unset)", code=2)
    try:
        done = add(files, folder, run.data.max_ingest_mb)
    except (OSError, ValueError) as exc:
        fail(f"{exc}; nothing was added")
    for item in done:
        state = "added" if item.added else "already there"
        typer.echo(f"{state}: {item.source} -> {item.target} ({item.tweets} tweets)")
    added = sum(item.added for item in done)
    typer.echo(f"{added} new file(s) in {folder}; the next training run uses them")
