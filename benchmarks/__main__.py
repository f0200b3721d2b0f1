"""`python -m benchmarks`, from the repository root: the seed pipeline against nerflow's."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nerflow.cli.options import exit_on_sigterm
from nerflow.config import btc_dir_from_env
from nerflow.orchestration.process import apply_prefect_defaults


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=True,
        help="small step counts (CI; the default)",
    )
    mode.add_argument("--full", dest="quick", action="store_false", help="the README's run")
    parser.add_argument("--data-dir", type=Path, help="local BTC copy [$NERFLOW_BTC_DIR]")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench"),
        help="where benchmark.json and .md (or gpu_benchmark.json) go [bench]",
    )
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="the GPU benchmark instead (random bert-base-cased): tokens/s, MFU",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="GPU peak for --gpu's utilisation [looked up by device name]",
    )
    parser.add_argument("--gpu-batch", type=int, default=64, help="--gpu: sequences per step")
    parser.add_argument("--gpu-seq-len", type=int, default=64, help="--gpu: tokens per sequence")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark the options choose and print its results."""
    args = parse_args(argv)
    exit_on_sigterm()  # a `kill` stops the measuring processes too
    if args.gpu:
        from benchmarks.gpu import gpu_benchmark

        try:
            result = gpu_benchmark(
                batch=args.gpu_batch,
                seq_len=args.gpu_seq_len,
                peak_flops=args.peak_tflops * 1e12 if args.peak_tflops else None,
            )
        except RuntimeError as exc:
            sys.exit(f"error: {exc}")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_benchmark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(json.dumps(result, indent=2))
        if result["mfu"] is None:
            print(f"no peak known for {result['device']}: pass --peak-tflops for the MFU")
        return
    folder = args.data_dir or btc_dir_from_env()
    if folder is None:
        sys.exit("error: give --data-dir or set NERFLOW_BTC_DIR to a local BTC copy")
    apply_prefect_defaults()
    from benchmarks.run import run_benchmark

    run_benchmark(folder, args.out, quick=args.quick)
    print((args.out / "benchmark.md").read_text(encoding="utf-8"))


if __name__ == "__main__":  # not when a spawned measuring process imports it
    main()
