"""The benchmark in quick mode on the real corpus: it measures and reports every comparison."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run as bench_run
from benchmarks.common import TRAIN_VARIANTS, BenchPlan
from benchmarks.gpu import gpu_benchmark, training_flops_per_token, training_throughput
from benchmarks.run import (
    NO_NATIVE_BF16,
    markdown_table,
    native_bf16,
    run_benchmark,
    spread,
    train_variants,
    training_results,
)
from benchmarks.seed import round_order

#: The repository root: `python -m benchmarks` runs from there.
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_reports_every_ratio(tmp_path: Path, btc_dir: Path) -> None:
    results = run_benchmark(btc_dir, tmp_path, quick=True)
    saved = json.loads((tmp_path / "benchmark.json").read_text(encoding="utf-8"))
    assert saved["ratios"] == results["ratios"]
    ratios, spreads, rounds = results["ratios"], results["ratio_spreads"], results["plan"]["rounds"]
    assert set(ratios) >= {
        "train_tweets_per_s_speedup", "train_best_speedup", "predict_speedup",
        "cached_rerun_fraction", "overhead_fraction", "tokenize_speedup", "train_memory_ratio",
    }  # fmt: skip
    # bf16 is timed where the CPU computes it natively, else reported as skipped, with why.
    for variant in (v for v in TRAIN_VARIANTS if v.bf16):
        entry = results[f"train_{variant.name}"]
        if native_bf16():
            assert "skipped" not in entry and entry["precision"] == "bf16"
        else:
            assert "native bf16" in entry["skipped"]
    measured = [v for v in TRAIN_VARIANTS if "skipped" not in results[f"train_{v.name}"]]
    # Each nerflow variant's speedup over the seed: a median over rounds, with its range.
    for variant in measured[1:]:
        spread_ = spreads[variant.ratio]
        assert len(spread_["rounds"]) == rounds
        assert 0 < spread_["min"] <= spread_["median"] == ratios[variant.ratio] <= spread_["max"]
    assert ratios["train_best_speedup"] == max(ratios[v.ratio] for v in measured[1:])
    # The rounds interleaved: in the rotating order, one variant training at a time.
    names = [v.name for v in measured]
    assert results["train_round_order"] == [round_order(names, i) for i in range(rounds)]
    timeline = [
        results[f"train_{name}"]["per_round"][i]
        for i, order in enumerate(results["train_round_order"])
        for name in order
    ]
    for before, after in itertools.pairwise(timeline):
        assert before["started"] + before["seconds"] <= after["started"] + 0.01
    # Directions, not timing goals: padding to 512 is nearly all padding, dynamic is not.
    assert results["train_seed"]["padding_fraction"] > 0.8
    for variant in measured[1:]:
        assert results[f"train_{variant.name}"]["padding_fraction"] < 0.5
    assert ratios["train_tweets_per_s_speedup"] > 1 and ratios["predict_speedup"] > 1
    assert ratios["predict_fp32_speedup"] > 1
    # Both precisions were scored on the flow's model (quick mode: 400 validation tweets).
    assert results["inference"]["scored_tweets"] == 400
    assert 0 <= results["inference"]["f1_default"] <= 1
    assert 0 < ratios["cached_rerun_fraction"] < 1
    table = (tmp_path / "benchmark.md").read_text(encoding="utf-8")
    best = results[f"train_{results['train_best_variant']}"]["label"]
    assert f"| train_best_speedup ({best}) |" in table and "| nerflow, bf16 | bf16 |" in table


def test_rounds_rotate_so_every_variant_runs_at_every_position() -> None:
    names = ["seed", "project", "token_budget"]
    orders = [round_order(names, i) for i in range(3)]
    assert orders == [
        ["seed", "project", "token_budget"],
        ["project", "token_budget", "seed"],
        ["token_budget", "seed", "project"],
    ]
    for position in range(3):
        assert {order[position] for order in orders} == set(names)
    assert round_order(names, 3) == orders[0]
    with pytest.raises(ValueError, match="no variants"):
        round_order([], 0)


def _counts(tweets: int, seconds: float) -> dict[str, float]:
    return {"started": 0.0, "steps": 2, "seconds": seconds, "tweets": tweets,
            "positions": 10 * tweets, "real": 4 * tweets, "peak_rss_mb": 1000.0}  # fmt: skip


def _three_rounds() -> dict[str, Any]:
    """Seed at 2, 1 and 2 tweets/s: the second round ran while something else loaded the
    machine, and slowed nerflow's project recipe by as much (40, 20, 40 tweets/s)."""
    speeds = {"seed": (2, 1, 2), "project": (40, 20, 40), "token_budget": (60, 40, 20)}
    tweets = {"seed": 8, "project": 64, "token_budget": 120}
    return {
        "round_order": [round_order(list(speeds), i) for i in range(3)],
        "rounds": [{n: _counts(tweets[n], tweets[n] / s[i]) for n, s in speeds.items()}
                   for i in range(3)],
    }  # fmt: skip


def test_training_ratios_are_taken_within_each_round() -> None:
    variants, skipped = train_variants(native=False)
    results = training_results(variants, skipped, _three_rounds())
    spreads = results["ratio_spreads"]
    # The loaded round slowed both sides of the project's ratio: it stays 20 in every round.
    assert results["train_project"]["tweets_per_s_min"] == 20.0
    assert spreads["train_tweets_per_s_speedup"] == {
        "median": 20.0, "min": 20.0, "max": 20.0, "rounds": [20.0, 20.0, 20.0]
    }  # fmt: skip
    assert spreads["train_token_budget_speedup"] == {
        "median": 30.0, "min": 10.0, "max": 40.0, "rounds": [30.0, 40.0, 10.0]
    }  # fmt: skip
    assert results["train_best_variant"] == "token_budget"
    assert spreads["train_best_speedup"]["median"] == 30.0
    assert results["train_seed"]["tweets_per_s"] == 2.0 and results["train_seed"]["steps"] == 6
    assert results["train_project"]["padding_fraction"] == pytest.approx(0.6)
    assert results["train_project_bf16"]["skipped"] == NO_NATIVE_BF16


def test_spread_is_median_min_and_max_and_needs_a_round() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0]) == {
        "median": 2.5, "min": 1.0, "max": 10.0, "rounds": [3.0, 1.0, 2.0, 10.0]
    }  # fmt: skip
    with pytest.raises(ValueError, match="no rounds"):
        spread([])


def test_bf16_variants_run_only_where_bf16_is_native() -> None:
    everything, none_skipped = train_variants(native=True)
    assert everything == list(TRAIN_VARIANTS) and none_skipped == {}
    fp32_only, skipped = train_variants(native=False)
    assert [v.precision for v in fp32_only] == ["fp32"] * 3
    assert set(skipped) == {"project_bf16", "token_budget_bf16"}


def test_gpu_benchmark_refuses_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the benchmark itself runs instead")
    with pytest.raises(RuntimeError, match="needs a CUDA device"):
        gpu_benchmark()


def test_the_gpu_modes_training_loop_trains_in_bf16_on_a_cpu_too() -> None:
    # The loop `make bench-gpu` times, on a small BERT: autocast, fused AdamW, a loss.
    import torch
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64,
    )  # fmt: skip
    torch.manual_seed(0)
    result = training_throughput(
        config, "cpu", torch.bfloat16, steps=30, batch=4, seq_len=8, learning_rate=1e-3
    )
    assert result["tokens_per_s"] > 0 and result["dtype"] == "torch.bfloat16"
    # The same batch every step: a model that trains fits it, so its loss falls.
    assert result["last_loss"] < result["first_loss"] - 0.5


def test_training_flops_follow_the_six_n_rule() -> None:
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128
    )
    model = BertForTokenClassification(config)
    params = sum(p.numel() for p in model.parameters())
    assert training_flops_per_token(model, config, 32) == 6 * params + 12 * 2 * 64 * 32


def test_markdown_marks_targets_met_and_missed() -> None:
    variants, skipped = train_variants(native=False)
    results = {
        "mode": "quick", "plan": dataclasses.asdict(BenchPlan(3, 2, 1, 48, 3)),
        **training_results(variants, skipped, _three_rounds()),
        "tokenize": {"seed_seconds": 2.0, "project_seconds": 1.0},
        "inference": {"per_tweet_tweets_per_s": 1.0, "batched_tweets_per_s": 2.0,
                      "batched_fp32_tweets_per_s": 1.5, "default_dtype": "bfloat16",
                      "f1_fp32": 0.7, "f1_default": 0.6997, "scored_tweets": 10},
        "flow": {"steps": "3 steps", "first_run_seconds": 10.0, "task_seconds": 8.0,
                 "overhead_seconds": 2.0, "cached_rerun_seconds": 1.0},
    }  # fmt: skip
    results["ratios"] = bench_run.ratios(results)
    table = markdown_table(results)
    assert "| train_tweets_per_s_speedup | 20.000 | [20.000, 20.000] | >= 15 ✓ |" in table
    assert "| train_token_budget_speedup | 30.000 | [10.000, 40.000] |  |" in table
    assert (
        "| train_best_speedup (nerflow, token budget) | 30.000 | [10.000, 40.000] | >= 40 ✗ |"
        in table
    )
    assert "| predict_speedup | 2.000 |  | >= 5 ✗ |" in table
    assert "| predict_f1_change | -0.0003 |  |  |" in table
    assert "| nerflow | fp32 | 40.00 [20.00, 40.00] | 160.0 | 0.60 | 1000 |" in table
    assert "| nerflow, bf16 | bf16 | skipped: no native bf16" in table
    assert "| 2.0 (batched, bfloat16) | 1.5 (batched, fp32) |" in table
    assert "0.7000 in fp32, 0.6997 in bfloat16" in table


@pytest.mark.slow
def test_a_terminated_benchmark_stops_its_measuring_processes(
    tmp_path: Path, btc_dir: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    log = tmp_path / "bench.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "--quick",
             "--data-dir", str(btc_dir), "--out", str(tmp_path / "out")],
            cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # Wait for the first measuring process (tokenizing, then the training variants).
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while not any("spawn_main" in " ".join(c.cmdline()) for c in children):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
        children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(children, timeout=30)
    for leftover in alive:
        leftover.kill()
    assert not alive, [p.cmdline() for p in alive]
    assert not (tmp_path / "out" / "benchmark.json").exists()


def test_bench_gpu_takes_the_shape_to_time_and_writes_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmarks.gpu
    from benchmarks.__main__ import main

    asked: dict[str, Any] = {}

    def measured(**kwargs: Any) -> dict[str, Any]:
        asked.update(kwargs)
        return {"device": "NVIDIA H200", "tokens_per_s": 4.5e5, "mfu": 0.3}

    monkeypatch.setattr(benchmarks.gpu, "gpu_benchmark", measured)
    main(["--gpu", "--gpu-batch", "128", "--gpu-seq-len", "256", "--out", str(tmp_path)])
    assert asked == {"batch": 128, "seq_len": 256, "peak_flops": None}
    saved = json.loads((tmp_path / "gpu_benchmark.json").read_text(encoding="utf-8"))
    assert saved["mfu"] == 0.3
