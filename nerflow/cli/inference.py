"""`nerflow predict` and `nerflow evaluate`: a trained model on new text or CoNLL data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from nerflow.cli.options import TrackingUri, fail
from nerflow.config import DataConfig, TrackingConfig
from nerflow.tagging.tweets import read_tweet_file
from nerflow.tracking.names import CHAMPION

DEFAULT_MODEL = f"models:/{TrackingConfig().registered_model}@{CHAMPION}"
DEFAULT_MAX_LENGTH = DataConfig().max_length
PRECISION_HELP = "auto | fp32 | bf16 | fp16 (auto: bf16 where the hardware computes it natively)"


def _require_choice(option: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        fail(f"{option} {value!r}: use {', '.join(choices)}")


def predict(
    texts: Annotated[list[str] | None, typer.Argument(help="texts to tag")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="one text per line, or .jsonl", exists=True, dir_okay=False),
    ] = None,
    model: Annotated[
        str, typer.Option(help="models:/ or runs:/ URI, or a local model folder")
    ] = DEFAULT_MODEL,
    aggregation: Annotated[str, typer.Option(help="first | average | max")] = "first",
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    max_length: Annotated[int, typer.Option(min=8)] = DEFAULT_MAX_LENGTH,
    precision: Annotated[str, typer.Option(help=PRECISION_HELP)] = "auto",
    tracking_uri: TrackingUri = None,
) -> None:
    """Print one JSON line per text: its entity spans (type, text, start, end, score)."""
    from nerflow.inference.device import PRECISIONS
    from nerflow.inference.predict import Aggregation, EntityPredictor
    from nerflow.tracking.model import fetch_model
    from nerflow.tracking.registry import RegistryError

    _require_choice("--aggregation", aggregation, get_args(Aggregation))
    _require_choice("--precision", precision, PRECISIONS)
    try:
        inputs = list(texts or []) + (read_tweet_file(input_file) if input_file else [])
        if not inputs:
            raise ValueError("nothing to predict: give texts or --input FILE")
        weights = fetch_model(model, tracking_uri)
        chosen = cast("Aggregation", aggregation)
        predictor = EntityPredictor(weights, max_length, batch_size, chosen, precision=precision)
    except (RegistryError, ValueError) as exc:
        fail(exc)
    for number, (text, spans) in enumerate(zip(inputs, predictor.predict(inputs), strict=True)):
        entities = [span.as_dict() for span in spans]
        line = json.dumps({"id": number, "text": text, "entities": entities}, ensure_ascii=False)
        # Still JSON, and one line for readers that also split at Unicode line separators.
        typer.echo(line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def evaluate(
    model: Annotated[str, typer.Option(help="models:/ URI or local model folder")],
    data: Annotated[Path, typer.Option(help="a CoNLL file or a folder of them", exists=True)],
    label_map: Annotated[
        str | None, typer.Option(help="e.g. person=PER,location=LOC,corporation=ORG,group=ORG")
    ] = None,
    scheme: Annotated[
        str, typer.Option(help="auto | iob2 | iob1 | bioes (auto: BIOES if E-/S- tags appear)")
    ] = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the scores here")] = None,
    log_to_mlflow: Annotated[bool, typer.Option(help="record the scores as an MLflow run")] = False,
    experiment: Annotated[str, typer.Option(help="MLflow experiment for --log-to-mlflow")] = (
        "nerflow-evaluations"
    ),
    max_length: Annotated[int, typer.Option(min=8)] = DEFAULT_MAX_LENGTH,
    precision: Annotated[
        str, typer.Option(help=f"{PRECISION_HELP}; fp32 scores as training does")
    ] = "fp32",
    tracking_uri: TrackingUri = None,
) -> None:
    """Score a model on any CoNLL data with the training metrics (overall and per type)."""
    from nerflow.corpus.conll import ConllFormatError
    from nerflow.corpus.labels import SchemeChoice, parse_label_map
    from nerflow.evaluation import score_conll
    from nerflow.inference.device import PRECISIONS
    from nerflow.inference.predict import EntityPredictor
    from nerflow.reporting.tables import render, score_rows
    from nerflow.tracking.model import fetch_model
    from nerflow.tracking.registry import RegistryError
    from nerflow.tracking.tagging import log_evaluation

    _require_choice("--scheme", scheme, get_args(SchemeChoice))
    _require_choice("--precision", precision, PRECISIONS)
    try:
        mapping = parse_label_map(label_map)
        weights = fetch_model(model, tracking_uri)
        predictor = EntityPredictor(weights, max_length, precision=precision)
        scores = score_conll(predictor, data, cast("SchemeChoice", scheme), mapping)
    except (RegistryError, ValueError, ConllFormatError, FileNotFoundError) as exc:
        fail(exc)
    typer.echo(f"{scores.tweets} sentences, {scores.support} gold entities")
    rows = score_rows({"data": scores}, support=True)
    typer.echo(render(rows, ("type", "precision", "recall", "f1", "support")))
    typer.echo(f"macro F1 {scores.macro_f1:.3f}")
    if json_out is not None:
        json_out.write_text(scores.model_dump_json(indent=2), encoding="utf-8")
    if log_to_mlflow:
        params = {"model": model, "data": str(data), "label_map": label_map or "",
                  "scheme": scheme, "precision": precision}  # fmt: skip
        run_id = log_evaluation(tracking_uri, experiment, params, scores)
        typer.echo(f"logged as MLflow run {run_id} in experiment {experiment}")
