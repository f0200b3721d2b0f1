"""`nerflow ingest`: add labelled CoNLL files to the incoming folder the next run trains on."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nerflow.cli.options import (
    ConfigFile,
    Overrides,
    config_or_exit,
    fail,
    fields,
    with_config_options,
)

if TYPE_CHECKING:
    from nerflow.config import DataConfig

INGEST_OPTIONS = fields(
    "data", "incoming_dir", "mention_convention", max_mb="max_ingest_mb"
) | fields("tracking", "tracking_uri", "registered_model", "experiment")


@with_config_options(INGEST_OPTIONS)
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CoNLL files (TOKEN<TAB>TAG, IOB2)")],
    config: ConfigFile = None,
    *,
    overrides: Overrides,
) -> None:
    """Check labelled CoNLL files and add them to the incoming folder; the next run trains on
    them. A bad file is refused (file, line, value) and nothing is added."""
    from nerflow.cli.label_issues import rank_ingested, report_ingested
    from nerflow.corpus.incoming import ingest as add

    run = config_or_exit(config, overrides)
    folder = run.data.incoming_dir
    if folder is None:
        fail("no incoming folder configured (data.incoming_dir is unset)", code=2)
    try:
        ranking = rank_ingested(files, run)  # first: a file it cannot rank adds nothing
        done = add(files, folder, run.data.max_ingest_mb)
    except (OSError, ValueError) as exc:
        fail(f"{exc}; nothing was added")
    for item in done:
        state = "added" if item.added else "already there"
        typer.echo(f"{state}: {item.source} -> {item.target} ({item.tweets} tweets)")
        show_conventions(item.source.name, item.target, run.data)
    added = sum(item.added for item in done)
    typer.echo(f"{added} new file(s) in {folder}; the next training run uses them")
    report_ingested(ranking, run)


def show_conventions(name: str, path: Path, data: DataConfig) -> None:
    """Print, under an ingested file, how it labels @-mentions, hashtags and URLs."""
    from nerflow.corpus.consistency import describe_file

    typer.echo(textwrap.indent(describe_file(path, name, data.mention_convention), "  "))
