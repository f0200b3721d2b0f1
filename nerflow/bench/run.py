"""`nerflow bench`: the seed notebook's pipeline against nerflow's, measured in one run.

The seed (re-implemented here as the baseline): every tweet padded to 512 sub-words, every
sub-word labelled, all but the last encoder layer frozen, batch 8. nerflow: no padding at
tokenization, first-sub-word labels, dynamic padding in length-grouped batches of 32 (or a
token budget), a full fine-tune. Same machine, same base model, same process layout: each
measurement runs in its own spawned process so its peak memory is its own.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerflow.bench.flow import bench_flow
from nerflow.bench.inference import bench_inference
from nerflow.bench.seed import bench_tokenize, bench_train


@dataclass(frozen=True)
class BenchPlan:
    """Step counts: quick for CI (seconds to minutes), full for the README's figures."""

    train_steps: int
    infer_tweets: int
    flow_max_steps: int | None  # None: a default run (3 epochs)

    @classmethod
    def for_mode(cls, quick: bool) -> BenchPlan:
        """The plan for quick or full mode."""
        return cls(3, 48, 3) if quick else cls(24, 400, None)


def run_benchmark(btc_dir: Path, out_dir: Path, quick: bool = True) -> dict[str, Any]:
    """Measure every comparison, write benchmark.json and benchmark.md, return the results."""
    plan = BenchPlan.for_mode(quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nerflow-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = {"mode": "quick" if quick else "full", "plan": plan.__dict__}
        results["tokenize"] = _in_child(bench_tokenize, btc_dir, work)
        for name in ("seed", "project", "token_budget"):
            results[f"train_{name}"] = _in_child(bench_train, btc_dir, work, name, plan.train_steps)
        results["flow"] = _in_child(bench_flow, btc_dir, work, plan.flow_max_steps)
        # On the model the flow trained: accuracy per precision means something only there.
        results["inference"] = _in_child(bench_inference, btc_dir, work, plan.infer_tweets)
    results["ratios"] = ratios(results)
    (out_dir / "benchmark.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out_dir / "benchmark.md").write_text(markdown_table(results), encoding="utf-8")
    return results


def ratios(r: dict[str, Any]) -> dict[str, float]:
    """The headline ratios (what the targets are stated in)."""
    seed, project = r["train_seed"], r["train_project"]
    return {
        "tokenize_speedup": r["tokenize"]["seed_seconds"] / r["tokenize"]["project_seconds"],
        "train_tweets_per_s_speedup": project["tweets_per_s"] / seed["tweets_per_s"],
        "train_token_budget_speedup": r["train_token_budget"]["tweets_per_s"]
        / seed["tweets_per_s"],
        "train_memory_ratio": project["peak_rss_mb"] / seed["peak_rss_mb"],
        "predict_speedup": r["inference"]["batched_tweets_per_s"]
        / r["inference"]["per_tweet_tweets_per_s"],
        "predict_fp32_speedup": r["inference"]["batched_fp32_tweets_per_s"]
        / r["inference"]["per_tweet_tweets_per_s"],
        "predict_f1_change": r["inference"]["f1_default"] - r["inference"]["f1_fp32"],
        "cached_rerun_fraction": r["flow"]["cached_rerun_seconds"] / r["flow"]["first_run_seconds"],
        "overhead_fraction": r["flow"]["overhead_seconds"] / r["flow"]["first_run_seconds"],
    }


TARGETS = {
    "train_tweets_per_s_speedup": (">=", 15.0),
    "predict_speedup": (">=", 5.0),
    "cached_rerun_fraction": ("<=", 0.10),
    "overhead_fraction": ("<=", 0.10),
}


def markdown_table(r: dict[str, Any]) -> str:
    """Ratios first (machines are noisy), then the raw figures behind them."""
    lines = [f"## Benchmark ({r['mode']} mode)", "", "| ratio | value | target |", "|---|---|---|"]
    for name, value in r["ratios"].items():
        op, bound = TARGETS.get(name, ("", None))
        target = f"{op} {bound:g}" if bound is not None else ""
        ok = "" if bound is None else (" ✓" if _meets(value, op, bound) else " ✗")
        shown = f"{value:+.4f}" if name.endswith("_change") else f"{value:.3f}"
        lines.append(f"| {name} | {shown} | {target}{ok} |")
    lines += ["", "| measurement | seed | nerflow | nerflow, token budget |", "|---|---|---|---|"]
    s, p, b = r["train_seed"], r["train_project"], r["train_token_budget"]
    for key, label in (
        ("tweets_per_s", "training tweets/s"),
        ("tokens_per_s", "training non-pad tokens/s"),
        ("padding_fraction", "padding fraction"),
        ("peak_rss_mb", "peak RSS (MB)"),
    ):
        lines.append(f"| {label} | {s[key]:.2f} | {p[key]:.2f} | {b[key]:.2f} |")
    t, i, f = r["tokenize"], r["inference"], r["flow"]
    lines += [
        f"| tokenize whole corpus (s) | {t['seed_seconds']:.2f} | {t['project_seconds']:.2f} | |",
        f"| predict tweets/s | {i['per_tweet_tweets_per_s']:.1f} (pipeline per tweet, fp32) "
        f"| {i['batched_tweets_per_s']:.1f} (batched, {i['default_dtype']}) "
        f"| {i['batched_fp32_tweets_per_s']:.1f} (batched, fp32) |",
        "",
        f"Entity F1 of the flow's model on validation ({i['scored_tweets']} tweets): "
        f"{i['f1_fp32']:.4f} in fp32, {i['f1_default']:.4f} in {i['default_dtype']} "
        "(the default precision).",
        "",
        f"Flow ({f['steps']}): first run {f['first_run_seconds']:.1f} s, of which task work "
        f"{f['task_seconds']:.1f} s and orchestration + tracking {f['overhead_seconds']:.1f} s; "
        f"fully cached rerun {f['cached_rerun_seconds']:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def _meets(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process; its peak RSS is reported with its results."""
    # An executor lets the worker exit normally (a Pool's exit kills it), so what its
    # imports hold (joblib's semaphores) is released instead of reported as leaked.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        return dict(executor.submit(_measured, fn, *args).result())


def _measured(fn: Any, *args: Any) -> dict[str, Any]:
    result = fn(*args)
    result.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return dict(result)
