"""The benchmark in quick mode on the real corpus: it measures and reports every comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerflow.bench.gpu import gpu_benchmark, training_flops_per_token, training_throughput
from nerflow.bench.run import markdown_table, run_benchmark


@pytest.mark.slow
def test_quick_benchmark_reports_every_ratio(tmp_path: Path, btc_dir: Path) -> None:
    results = run_benchmark(btc_dir, tmp_path, quick=True)
    saved = json.loads((tmp_path / "benchmark.json").read_text(encoding="utf-8"))
    assert saved["ratios"] == results["ratios"]
    ratios = results["ratios"]
    assert set(ratios) >= {
        "train_tweets_per_s_speedup", "predict_speedup", "cached_rerun_fraction",
        "overhead_fraction", "tokenize_speedup", "train_memory_ratio",
    }  # fmt: skip
    # Directions, not timing goals: padding to 512 is nearly all padding, dynamic is not.
    assert results["train_seed"]["padding_fraction"] > 0.8
    assert results["train_project"]["padding_fraction"] < 0.5
    assert results["train_token_budget"]["padding_fraction"] < 0.5
    assert ratios["train_tweets_per_s_speedup"] > 1 and ratios["predict_speedup"] > 1
    assert ratios["predict_fp32_speedup"] > 1
    # Both precisions were scored on the flow's model over the whole validation split.
    assert results["inference"]["scored_tweets"] == 2001
    assert 0 <= results["inference"]["f1_default"] <= 1
    assert 0 < ratios["cached_rerun_fraction"] < 1
    table = (tmp_path / "benchmark.md").read_text(encoding="utf-8")
    assert "| train_tweets_per_s_speedup |" in table and "padding fraction" in table


def test_gpu_benchmark_refuses_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the benchmark itself runs instead")
    with pytest.raises(RuntimeError, match="needs a CUDA device"):
        gpu_benchmark()


def test_the_gpu_modes_training_loop_trains_in_bf16_on_a_cpu_too() -> None:
    # The loop `nerflow bench --gpu` times, on a small BERT: autocast, fused AdamW, a loss.
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
    row = {"tweets_per_s": 1.0, "tokens_per_s": 1.0, "padding_fraction": 0.5, "peak_rss_mb": 1.0}
    results = {
        "mode": "quick",
        "ratios": {"train_tweets_per_s_speedup": 20.0, "predict_speedup": 2.0,
                   "predict_f1_change": -0.0003},
        "train_seed": row, "train_project": row, "train_token_budget": row,
        "tokenize": {"seed_seconds": 2.0, "project_seconds": 1.0},
        "inference": {"per_tweet_tweets_per_s": 1.0, "batched_tweets_per_s": 2.0,
                      "batched_fp32_tweets_per_s": 1.5, "default_dtype": "bfloat16",
                      "f1_fp32": 0.7, "f1_default": 0.69, "scored_tweets": 10},
        "flow": {"steps": "3 steps", "first_run_seconds": 10.0, "task_seconds": 8.0,
                 "overhead_seconds": 2.0, "cached_rerun_seconds": 1.0},
    }  # fmt: skip
    table = markdown_table(results)
    assert "| train_tweets_per_s_speedup | 20.000 | >= 15 ✓ |" in table
    assert "| predict_speedup | 2.000 | >= 5 ✗ |" in table
    assert "| predict_f1_change | -0.0003 |  |" in table
    assert "| 2.0 (batched, bfloat16) | 1.5 (batched, fp32) |" in table
    assert "0.7000 in fp32, 0.6900 in bfloat16" in table
