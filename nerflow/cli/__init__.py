"""The `nerflow` command line: builds the typed configs and runs the flows."""

from __future__ import annotations

import typer

from nerflow.cli import bench, inference, ingest, registry, serving, tag, train, tune
from nerflow.orchestration.locks import install_shared_locks
from nerflow.orchestration.process import out_of_memory_stops_at_once

app = typer.Typer(
    help="Fine-tune, track and register NER models on the Broad Twitter Corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help texts are plain: "[optuna.db beside MLflow's]" or "[data] [model]" would be read
    # as Rich markup and vanish.
    rich_markup_mode=None,
)


@app.callback()
def _every_command() -> None:
    # Registry writes outside a flow (promote, rollback) take the same lock as the flows: a
    # Prefect server's global concurrency limit where one is configured, else a file lock.
    install_shared_locks()


app.command()(train.train)
app.command()(train.serve)
app.command()(tune.tune)
app.command()(ingest.ingest)
app.command()(registry.models)
app.command()(registry.promote)
app.command()(registry.rollback)
app.command()(inference.predict)
app.command()(inference.evaluate)
app.command()(tag.tag)
app.command()(serving.serve_model)
app.command()(bench.bench)


def main() -> None:
    """Console-script entry point."""
    with out_of_memory_stops_at_once():
        app(prog_name="nerflow")
