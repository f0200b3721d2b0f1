"""The `nerflow` command line: builds the typed configs and runs the flows."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from pydantic import ValidationError

from tasks.config import BTC_DIR_ENV, DEFAULT_BASE_MODEL, RunConfig

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


PRECISION_HELP = "auto | fp32 | bf16 | fp16 (auto: bf16 where the hardware computes it natively)"

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file with [data] [model] [training] [tracking]",
        exists=True,
        dir_okay=False,
    ),
]


def _config_or_exit(
    config_file: Path | None, overrides: dict[str, dict[str, Any]], work_dir: Path | None
) -> RunConfig:
    """`build_config`, or exit 2 naming the bad field before any work starts."""
    try:
        return build_config(config_file, overrides, work_dir)
    except (ValidationError, ValueError) as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def train(
    config: ConfigFile = None,
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
    max_tokens_per_batch: Annotated[
        int | None, typer.Option(help="token-budget batching: padded sub-words per batch")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="[42]")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda")] = None,
    processes: Annotated[
        int | None, typer.Option(help="data-parallel processes, one per GPU (torchrun) [1]")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment [btc-ner]")] = None,
    registered_model: Annotated[
        str | None, typer.Option(help="registered model name [btc-ner]")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI [sqlite under ./mlruns]")
    ] = None,
    promotion_margin: Annotated[
        float | None, typer.Option(help="val F1 gain needed to replace the champion [0.005]")
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="cache folder for datasets and models [.nerflow]")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the summary as JSON here")
    ] = None,
) -> None:
    """Run the training flow and print validation/test entity scores and the registered version."""
    run = _config_or_exit(
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
                "max_tokens_per_batch": max_tokens_per_batch,
                "seed": seed,
                "device": device,
                "processes": processes,
            },
            tracking={
                "experiment": experiment,
                "registered_model": registered_model,
                "tracking_uri": tracking_uri,
                "promotion_margin": promotion_margin,
            },
        ),
        work_dir,
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tasks").setLevel(logging.INFO)  # our steps' progress, not httpx chatter
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


TrackingUri = Annotated[
    str | None, typer.Option(help="MLflow tracking URI [$MLFLOW_TRACKING_URI, else ./mlruns]")
]
RegisteredModel = Annotated[str, typer.Option(help="registered model name")]


def _require_choice(option: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise _fail(ValueError(f"{option} {value!r}: use {', '.join(choices)}"))


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _actor() -> str:
    return f"nerflow CLI ({os.environ.get('USER', 'unknown user')})"


@app.command()
def serve(
    config: ConfigFile = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="local corpus (else $NERFLOW_BTC_DIR, else download)")
    ] = None,
    base_model: Annotated[str | None, typer.Option(help="hub id or local model folder")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI [sqlite under ./mlruns]")
    ] = None,
    work_dir: Annotated[Path | None, typer.Option(help="cache folder [.nerflow]")] = None,
    cron: Annotated[str, typer.Option(help="when to retrain (cron)")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option(help="IANA timezone of --cron")] = "UTC",
    interval: Annotated[
        float | None, typer.Option(help="retrain every N seconds instead of --cron")
    ] = None,
    name: Annotated[str, typer.Option(help="deployment name")] = "nightly-retrain",
    collision: Annotated[
        str, typer.Option(help="a run due while one runs: enqueue (wait) | cancel-new")
    ] = "enqueue",
) -> None:
    """Serve scheduled retraining (nightly by default) until Ctrl-C; needs `make server`."""
    run = _config_or_exit(
        config,
        _overrides(
            data={"local_dir": data_dir},
            model={"base_model": base_model},
            tracking={"tracking_uri": tracking_uri},
        ),
        work_dir,
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The CLI is the one place that wires deployments in; flows themselves never import them.
    from deployments.retrain import (
        Collision,
        concurrency,
        require_server,
        retraining_schedule,
        serve_retraining,
    )

    try:
        schedule = retraining_schedule(cron, timezone, interval)
        concurrency(cast("Collision", collision))
        require_server()
    except (ValueError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    serve_retraining(run, schedule, name, cast("Collision", collision))


@app.command()
def models(registered_model: RegisteredModel = "btc-ner", tracking_uri: TrackingUri = None) -> None:
    """List registered versions: aliases, validation/test F1, base model, data, creation time."""
    from tasks.log_to_mlflow import RegistryError, list_versions, resolve_tracking_uri

    try:
        rows = list_versions(resolve_tracking_uri(tracking_uri)[0], registered_model)
    except RegistryError as exc:
        raise _fail(exc) from exc
    columns = ("version", "aliases", "val_f1", "test_f1", "base_model", "data", "created")
    table = [[", ".join(r[c]) if c == "aliases" else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in table:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="model version number")],
    alias: Annotated[str, typer.Option(help="alias to move")] = "champion",
    registered_model: RegisteredModel = "btc-ner",
    tracking_uri: TrackingUri = None,
) -> None:
    """Point an alias (default champion) at an evaluated version; the old champion is kept."""
    from tasks.log_to_mlflow import RegistryError, promote_version, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)[0]
    try:
        old = promote_version(uri, registered_model, version, alias, _actor())
    except RegistryError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{registered_model}@{alias}: version {old or '(none)'} -> {version}")


@app.command()
def rollback(
    registered_model: RegisteredModel = "btc-ner", tracking_uri: TrackingUri = None
) -> None:
    """Move champion back to previous-champion."""
    from tasks.log_to_mlflow import RegistryError, resolve_tracking_uri, rollback_champion

    try:
        demoted, restored = rollback_champion(
            resolve_tracking_uri(tracking_uri)[0], registered_model, _actor()
        )
    except RegistryError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{registered_model}@champion: version {demoted} -> {restored}")


def _read_texts(path: Path) -> list[str]:
    """One text per line, or JSON lines (a string or an object with "text") for .jsonl."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix not in {".jsonl", ".ndjson"}:
        return lines
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            texts.append("")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise ValueError(f'{path}:{number}: expected a string or {{"text": ...}}')
        texts.append(text)
    return texts


@app.command()
def predict(
    texts: Annotated[list[str] | None, typer.Argument(help="texts to tag")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="one text per line, or .jsonl", exists=True, dir_okay=False),
    ] = None,
    model: Annotated[
        str, typer.Option(help="models:/ or runs:/ URI, or a local model folder")
    ] = "models:/btc-ner@champion",
    aggregation: Annotated[str, typer.Option(help="first | average | max")] = "first",
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    max_length: Annotated[int, typer.Option(min=8)] = 128,
    precision: Annotated[str, typer.Option(help=PRECISION_HELP)] = "auto",
    tracking_uri: TrackingUri = None,
) -> None:
    """Print one JSON line per text: its entity spans (type, text, start, end, score)."""
    from tasks.log_to_mlflow import RegistryError, fetch_model
    from tasks.predict_entities import Aggregation, EntityPredictor
    from tasks.select_device import PRECISIONS

    _require_choice("--aggregation", aggregation, get_args(Aggregation))
    _require_choice("--precision", precision, PRECISIONS)
    try:
        inputs = list(texts or []) + (_read_texts(input_file) if input_file else [])
        if not inputs:
            raise ValueError("nothing to predict: give texts or --input FILE")
        weights, tokenizer = fetch_model(model, tracking_uri)
    except (RegistryError, ValueError) as exc:
        raise _fail(exc) from exc
    chosen = cast("Aggregation", aggregation)
    predictor = EntityPredictor(
        weights, max_length, batch_size, chosen, tokenizer_dir=tokenizer, precision=precision
    )
    for number, (text, spans) in enumerate(zip(inputs, predictor.predict(inputs), strict=True)):
        entities = [span.as_dict() for span in spans]
        typer.echo(
            json.dumps({"id": number, "text": text, "entities": entities}, ensure_ascii=False)
        )


@app.command()
def evaluate(
    model: Annotated[str, typer.Option(help="models:/ URI or local model folder")],
    data: Annotated[Path, typer.Option(help="a CoNLL file or a folder of them", exists=True)],
    label_map: Annotated[
        str | None, typer.Option(help="e.g. person=PER,location=LOC,corporation=ORG,group=ORG")
    ] = None,
    scheme: Annotated[str, typer.Option(help="iob2 | iob1 | bioes")] = "iob2",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the scores here")] = None,
    log_to_mlflow: Annotated[bool, typer.Option(help="record the scores as an MLflow run")] = False,
    experiment: Annotated[str, typer.Option(help="MLflow experiment for --log-to-mlflow")] = (
        "nerflow-evaluations"
    ),
    max_length: Annotated[int, typer.Option(min=8)] = 128,
    precision: Annotated[
        str, typer.Option(help=f"{PRECISION_HELP}; fp32 scores as training does")
    ] = "fp32",
    tracking_uri: TrackingUri = None,
) -> None:
    """Score a model on any CoNLL data with the training metrics (overall and per type)."""
    from tasks.evaluate_model import score_conll
    from tasks.log_to_mlflow import RegistryError, fetch_model, log_evaluation
    from tasks.map_labels import Scheme, parse_label_map
    from tasks.predict_entities import EntityPredictor
    from tasks.read_conll import ConllFormatError
    from tasks.score_entities import ENTITY_TYPES
    from tasks.select_device import PRECISIONS

    _require_choice("--scheme", scheme, get_args(Scheme))
    _require_choice("--precision", precision, PRECISIONS)
    try:
        mapping = parse_label_map(label_map)
        weights, tokenizer = fetch_model(model, tracking_uri)
        predictor = EntityPredictor(
            weights, max_length, tokenizer_dir=tokenizer, precision=precision
        )
        scores = score_conll(predictor, data, scheme, mapping)  # type: ignore[arg-type]
    except (RegistryError, ValueError, ConllFormatError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"{scores['tweets']} sentences, {scores['support']} gold entities")
    typer.echo(f"{'type':<8} {'P':>6} {'R':>6} {'F1':>6} {'support':>8}")
    typer.echo(
        f"{'overall':<8} {scores['precision']:6.3f} {scores['recall']:6.3f} {scores['f1']:6.3f}"
        f" {scores['support']:8d}"
    )
    for name in ENTITY_TYPES:
        row = scores["per_type"][name]
        typer.echo(
            f"{name:<8} {row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f}"
            f" {row['support']:8d}"
        )
    typer.echo(f"macro F1 {scores['macro_f1']:.3f}")
    if json_out is not None:
        json_out.write_text(json.dumps(scores, indent=2), encoding="utf-8")
    if log_to_mlflow:
        params = {
            "model": model,
            "data": str(data),
            "label_map": label_map or "",
            "scheme": scheme,
            "precision": precision,
        }
        run_id = log_evaluation(tracking_uri, experiment, params, scores)
        typer.echo(f"logged as MLflow run {run_id} in experiment {experiment}")


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option("--quick/--full", help="small step counts (CI) or the README's run")
    ] = True,
    data_dir: Annotated[
        Path | None, typer.Option(help="local BTC copy [$NERFLOW_BTC_DIR]", file_okay=False)
    ] = None,
    out: Annotated[Path, typer.Option(help="where benchmark.json and .md go")] = Path("bench"),
    gpu: Annotated[bool, typer.Option(help="the GPU benchmark (random bert-base-cased)")] = False,
    peak_tflops: Annotated[
        float | None,
        typer.Option(help="GPU peak for --gpu's utilisation [looked up by device name]", min=0),
    ] = None,
) -> None:
    """Measure the seed notebook's pipeline against nerflow's and print the ratios."""
    from flows.benchmark import gpu_benchmark, run_benchmark

    if gpu:
        try:
            result = gpu_benchmark(peak_flops=peak_tflops * 1e12 if peak_tflops else None)
        except RuntimeError as exc:
            raise _fail(exc) from exc
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_benchmark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        typer.echo(json.dumps(result, indent=2))
        if result["mfu"] is None:
            typer.echo(f"no peak known for {result['device']}: pass --peak-tflops for the MFU")
        return
    folder = data_dir or (Path(os.environ[BTC_DIR_ENV]) if BTC_DIR_ENV in os.environ else None)
    if folder is None:
        raise _fail(ValueError("give --data-dir or set NERFLOW_BTC_DIR to a local BTC copy"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    run_benchmark(folder, out, quick=quick)
    typer.echo((out / "benchmark.md").read_text(encoding="utf-8"))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nerflow")


if __name__ == "__main__":
    main()
