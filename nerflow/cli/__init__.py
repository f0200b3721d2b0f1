"""The `nerflow` command line: builds the typed configs and runs the flows."""

from __future__ import annotations

import typer

from nerflow.cli import inference, ingest, label_issues, registry, serving, tag, train
from nerflow.orchestration.locks import install_shared_locks
from nerflow.orchestration.process import out_of_memory_stops_at_once

app = typer.Typer(
    help="Fine-tune, track and register NER models on the Broad Twitter Corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help texts are plain: "[btc-ner]" or "[data] [model]" would be read as Rich markup.
    rich_markup_mode=None,
)


@app.callback()
def _every_command() -> None:
    # Registry writes outside a flow (promote, rollback) take the same lock as the flows: a
    # Prefect server's global concurrency limit where one is configured, else a file lock.
    install_shared_locks()


for command in (
    train.train, train.serve, train.tune, label_issues.label_issues, ingest.ingest,
    registry.models, registry.promote, registry.rollback, inference.predict,
    inference.evaluate, tag.tag, serving.serve_model,
):  # fmt: skip
    app.command()(command)


def main() -> None:
    """Console-script entry point."""
    with out_of_memory_stops_at_once():
        app(prog_name="nerflow")
