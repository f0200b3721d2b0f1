"""`nerflow label-issues` (k-fold over the training tweets) and the champion's ranking of the
files `nerflow ingest` adds: likely label errors, found by cleanlab."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from nerflow.cli.options import (
    ConfigFile,
    JsonOut,
    Overrides,
    config_or_exit,
    run_flow,
    with_config_options,
)
from nerflow.cli.train import TRAIN_OPTIONS
from nerflow.config import RunConfig
from nerflow.corpus.folds import DEFAULT_FOLDS
from nerflow.label_issues import LabelIssue, LabelledTweet

#: `nerflow train`'s options but the registry's: the k models are never registered.
OPTIONS = {
    name: option
    for name, option in TRAIN_OPTIONS.items()
    if name not in ("registered_model", "promotion_margin", "max_type_f1_drop")
}
#: Flagged words `nerflow ingest` prints (all are in the logged ranking).
INGEST_TOP = 5


@with_config_options(OPTIONS)
def label_issues(
    config: ConfigFile = None,
    folds: Annotated[
        int, typer.Option(min=2, help="folds: each model trains on the others (k trainings)")
    ] = DEFAULT_FOLDS,
    top: Annotated[int, typer.Option(min=0, help="flagged words to print, worst first")] = 20,
    json_out: JsonOut = None,
    *,
    overrides: Overrides,
) -> None:
    """Rank likely label errors in the training tweets: k models, each trained with the run's
    recipe without one fold, judge that fold (cleanlab); logged as an MLflow run, one
    artifact per source."""
    run = config_or_exit(config, overrides)
    run_flow(
        "find_label_issues", lambda result: _render(result, top), json_out, **dict(run),
        folds=folds,
    )  # fmt: skip


def _render(result: dict[str, str], top: int) -> str:
    from nerflow.label_issues import read_label_issues, top_table

    summary, issues = read_label_issues(Path(result["issues_dir"]))
    counts = ", ".join(f"{source} {c.flagged}/{c.words}" for source, c in summary.sources.items())
    shown = [top_table(issues, top)] if issues and top else []
    return "\n".join([
        f"\nflagged words per source (of words ranked): {counts}",
        f"tags ranked: {summary.ranked_tags}",
        *shown,
        f"all of it per source: {result['issues_dir']}",
        f"logged as MLflow run {result['run_id']} in experiment {result['experiment']}: "
        f"{result['run_url']}",
    ])  # fmt: skip


@dataclass(frozen=True)
class IngestRanking:
    """The champion's ranking of files about to be ingested, not yet written anywhere."""

    model: str  # the champion's `models:/name/version` URI
    ranked_tags: str
    tweets: list[LabelledTweet]
    issues: list[LabelIssue]


def rank_ingested(files: list[Path], run: RunConfig) -> IngestRanking | str:
    """The registry champion's ranking of `files`' labels, or why there is none (no store,
    no champion); a file the champion cannot rank raises, naming it."""
    from nerflow.corpus.incoming import check_ingestible
    from nerflow.label_issues import rank_files
    from nerflow.tracking.model import fetch_model
    from nerflow.tracking.names import CHAMPION
    from nerflow.tracking.registry import RegistryError
    from nerflow.tracking.tagging import resolve_alias

    tracking = run.tracking
    try:
        champion = resolve_alias(tracking.tracking_uri, tracking.registered_model, CHAMPION)
    except RegistryError as exc:
        return str(exc)
    # The same checks as adding: the ranking reads each file whole, so not one too big.
    for path in files:
        check_ingestible(path, run.data.max_ingest_mb)
    model_dir = fetch_model(champion.uri, champion.tracking_uri)
    tweets, issues, ranked = rank_files(files, model_dir, run.data.max_length)
    return IngestRanking(champion.uri, ranked, tweets, issues)


def report_ingested(ranking: IngestRanking | str, run: RunConfig) -> None:
    """Print the worst flagged words and log the ranking (one file per ingested file) as an
    MLflow run of kind `ingest`, saying where it is; or one line saying why there is none."""
    from nerflow.label_issues import ranking_metrics, top_table, write_label_issues
    from nerflow.tracking.names import INGEST_KIND
    from nerflow.tracking.tagging import log_label_issues

    if isinstance(ranking, str):
        typer.echo(f"label ranking skipped: {ranking}")
        return
    files = sorted({tweet.file for tweet in ranking.tweets})
    typer.echo(
        f"{ranking.model} flags {len(ranking.issues)} likely label error(s) in "
        f"{', '.join(files)} (tags ranked: {ranking.ranked_tags})"
    )
    if ranking.issues:
        typer.echo(top_table(ranking.issues, INGEST_TOP))
    params: dict[str, Any] = {"model": ranking.model, "files": ", ".join(files)}
    with tempfile.TemporaryDirectory(prefix="nerflow-label-issues-") as tmp:
        write_label_issues(ranking.issues, ranking.tweets, ranking.ranked_tags, Path(tmp))
        logged = log_label_issues(
            run.tracking.tracking_uri, run.tracking.experiment, INGEST_KIND, params,
            ranking_metrics(Path(tmp)), Path(tmp),
        )  # fmt: skip
    typer.echo(
        f"ranking logged as MLflow run {logged['run_id']} in experiment "
        f"{logged['experiment']}: {logged['artifacts']} ({logged['run_url']})"
    )
