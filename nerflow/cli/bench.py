"""`nerflow bench`: the seed notebook's pipeline against nerflow's, or the GPU mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nerflow.cli.options import exit_on_sigterm, fail
from nerflow.config import btc_dir_from_env
from nerflow.orchestration.settings import apply_prefect_defaults


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
    gpu_batch: Annotated[int, typer.Option(help="--gpu: sequences per step", min=1)] = 64,
    gpu_seq_len: Annotated[int, typer.Option(help="--gpu: tokens per sequence", min=8)] = 64,
) -> None:
    """Measure the seed notebook's pipeline against nerflow's and print the ratios."""
    exit_on_sigterm()  # a `kill` stops the measuring processes too
    if gpu:
        from nerflow.bench.gpu import gpu_benchmark

        try:
            result = gpu_benchmark(
                batch=gpu_batch,
                seq_len=gpu_seq_len,
                peak_flops=peak_tflops * 1e12 if peak_tflops else None,
            )
        except RuntimeError as exc:
            fail(exc)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_benchmark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        typer.echo(json.dumps(result, indent=2))
        if result["mfu"] is None:
            typer.echo(f"no peak known for {result['device']}: pass --peak-tflops for the MFU")
        return
    folder = data_dir or btc_dir_from_env()
    if folder is None:
        fail("give --data-dir or set NERFLOW_BTC_DIR to a local BTC copy")
    apply_prefect_defaults()
    from nerflow.bench.run import run_benchmark

    run_benchmark(folder, out, quick=quick)
    typer.echo((out / "benchmark.md").read_text(encoding="utf-8"))
