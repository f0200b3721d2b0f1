"""`make bench`: the seed notebook's pipeline against nerflow's, measured in one run.

The seed (re-implemented here as the baseline): every tweet padded to 512 sub-words, every
sub-word labelled, all but the last encoder layer frozen, batch 8, fp32. nerflow: no padding
at tokenization, first-sub-word labels, dynamic padding in length-grouped batches of 32 (or
a token budget), a full fine-tune, in fp32 or (where the CPU computes bf16 natively) mixed
bf16. Same machine, same base model. Training is timed in interleaved rounds, one process
per variant (`benchmarks.seed`); every other measurement runs in its own spawned process.
Each process's peak memory is its own.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import resource
import statistics
import tempfile
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.common import SEED, TRAIN_VARIANTS, BenchPlan, TrainVariant
from benchmarks.flow import bench_flow
from benchmarks.inference import bench_inference
from benchmarks.seed import bench_tokenize, bench_train_rounds, receive

NO_NATIVE_BF16 = (
    "no native bf16 here (on a CPU: AVX512-BF16, AMX or Arm BF16): autocast would emulate "
    "it, so its speed would be the emulation's, not the recipe's"
)


def run_benchmark(btc_dir: Path, out_dir: Path, quick: bool = True) -> dict[str, Any]:
    """Measure every comparison, write benchmark.json and benchmark.md, return the results."""
    plan = BenchPlan.for_mode(quick)
    variants, skipped = train_variants(native_bf16())
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nerflow-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = {
            "mode": "quick" if quick else "full",
            "plan": dataclasses.asdict(plan),
        }
        results["tokenize"] = _in_child(bench_tokenize, btc_dir, work)
        measured = bench_train_rounds(btc_dir, work, variants, plan)
        results.update(training_results(variants, skipped, measured))
        results["flow"] = _in_child(bench_flow, btc_dir, work, plan.flow_max_steps)
        # On the model the flow trained: accuracy per precision means something only there.
        results["inference"] = _in_child(
            bench_inference, btc_dir, work, plan.infer_tweets, plan.scored_tweets
        )
    results["ratios"] = ratios(results)
    (out_dir / "benchmark.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out_dir / "benchmark.md").write_text(markdown_table(results), encoding="utf-8")
    return results


def train_variants(native: bool) -> tuple[list[TrainVariant], dict[str, str]]:
    """The training variants to time on this machine, and those skipped with the reason.

    bf16 is timed only where the hardware computes it natively: elsewhere autocast emulates
    it, and its ratio would measure the emulation, not the recipe.
    """
    skipped = {} if native else {v.name: NO_NATIVE_BF16 for v in TRAIN_VARIANTS if v.bf16}
    return [v for v in TRAIN_VARIANTS if v.name not in skipped], skipped


def native_bf16() -> bool:
    """Whether this machine computes bf16 natively where the variants train."""
    import torch

    from nerflow.inference.device import cpu_has_native_bf16

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_native_bf16()


def training_results(
    variants: list[TrainVariant], skipped: dict[str, str], measured: dict[str, Any]
) -> dict[str, Any]:
    """benchmark.json's training part: per variant its figures, per ratio its spread.

    A ratio is taken within each round (variant over seed, both measured in it), then its
    median and range over rounds are reported: a round slowed by outside load moves both
    sides of its ratio. The headline, train_best_speedup, is the fastest variant's.
    """
    rounds: list[dict[str, dict[str, float]]] = measured["rounds"]
    results: dict[str, Any] = {"train_round_order": measured["round_order"]}
    spreads: dict[str, dict[str, Any]] = {}
    for variant in variants:
        mine = [r[variant.name] for r in rounds]
        tweets = spread([_tweets_per_s(c) for c in mine])
        results[f"train_{variant.name}"] = {
            "label": variant.label,
            "precision": variant.precision,
            "steps": sum(c["steps"] for c in mine),
            "seconds": sum(c["seconds"] for c in mine),
            "tweets_per_s": tweets["median"],
            "tweets_per_s_min": tweets["min"],
            "tweets_per_s_max": tweets["max"],
            "tokens_per_s": statistics.median(c["real"] / c["seconds"] for c in mine),
            "padding_fraction": 1
            - sum(c["real"] for c in mine) / max(sum(c["positions"] for c in mine), 1),
            "peak_rss_mb": max(c["peak_rss_mb"] for c in mine),
            "per_round": mine,
        }
        if variant != SEED:
            results[f"train_{variant.name}"]["ratio"] = variant.ratio
            spreads[variant.ratio] = spread(
                [_tweets_per_s(r[variant.name]) / _tweets_per_s(r[SEED.name]) for r in rounds]
            )
    for variant in (v for v in TRAIN_VARIANTS if v.name in skipped):
        results[f"train_{variant.name}"] = {
            "label": variant.label, "precision": variant.precision, "skipped": skipped[variant.name]
        }  # fmt: skip
    best = max((v for v in variants if v != SEED), key=lambda v: spreads[v.ratio]["median"])
    spreads["train_best_speedup"] = spreads[best.ratio]
    results["train_best_variant"] = best.name
    results["ratio_spreads"] = spreads
    return results


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min and max over rounds, with the values themselves."""
    if not values:
        raise ValueError("no rounds to summarise")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": values,
    }


def ratios(r: dict[str, Any]) -> dict[str, float]:
    """The headline ratios (what the targets are stated in); training ones are medians."""
    seed, project = r["train_seed"], r["train_project"]
    return {
        "tokenize_speedup": r["tokenize"]["seed_seconds"] / r["tokenize"]["project_seconds"],
        **{name: s["median"] for name, s in r["ratio_spreads"].items()},
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
    "train_best_speedup": (">=", 40.0),
    "predict_speedup": (">=", 5.0),
    "cached_rerun_fraction": ("<=", 0.10),
    "overhead_fraction": ("<=", 0.10),
}


def markdown_table(r: dict[str, Any]) -> str:
    """Ratios first (machines are noisy), then the raw figures behind them."""
    plan, spreads = r["plan"], r["ratio_spreads"]
    best = r[f"train_{r['train_best_variant']}"]["label"]
    lines = [
        f"## Benchmark ({r['mode']} mode)",
        "",
        f"Training: {plan['rounds']} rounds of {plan['steps_per_round']} steps per variant "
        f"(after {plan['warmup_steps']} warm-up step(s)), the variants taking turns in an "
        "order that rotates each round. A training ratio is the variant's tweets/s over the "
        "seed's (fp32) in the same round: the median over rounds, and its range. "
        f"train_best_speedup is the fastest variant's: {best}.",
        "",
        "| ratio | value | over rounds [min, max] | target |",
        "|---|---|---|---|",
    ]
    for name, value in r["ratios"].items():
        op, bound = TARGETS.get(name, ("", None))
        target = f"{op} {bound:g}" if bound is not None else ""
        ok = "" if bound is None else (" ✓" if _meets(value, op, bound) else " ✗")
        shown = f"{value:+.4f}" if name.endswith("_change") else f"{value:.3f}"
        s = spreads.get(name)
        ranged = f"[{s['min']:.3f}, {s['max']:.3f}]" if s else ""
        label = f"{name} ({best})" if name == "train_best_speedup" else name
        lines.append(f"| {label} | {shown} | {ranged} | {target}{ok} |")
    lines += [
        "",
        "| training | precision | tweets/s, median [min, max] | non-pad tokens/s "
        "| padding fraction | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for variant in TRAIN_VARIANTS:
        v = r[f"train_{variant.name}"]
        if "skipped" in v:
            lines.append(f"| {v['label']} | {v['precision']} | skipped: {v['skipped']} | | | |")
            continue
        lines.append(
            f"| {v['label']} | {v['precision']} | {v['tweets_per_s']:.2f} "
            f"[{v['tweets_per_s_min']:.2f}, {v['tweets_per_s_max']:.2f}] | {v['tokens_per_s']:.1f} "
            f"| {v['padding_fraction']:.2f} | {v['peak_rss_mb']:.0f} |"
        )
    t, i, f = r["tokenize"], r["inference"], r["flow"]
    lines += [
        "",
        "| measurement | seed | nerflow | nerflow, other setting |",
        "|---|---|---|---|",
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


def _tweets_per_s(counts: dict[str, float]) -> float:
    return counts["tweets"] / counts["seconds"]


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process; its peak RSS is reported with its results.

    The process returns normally (so what its imports hold, joblib's semaphores, is released
    rather than reported as leaked), and is ended if this one is interrupted (Ctrl-C, or
    SIGTERM through `exit_on_sigterm`) instead of being left running.
    """
    context = multiprocessing.get_context("spawn")
    name = fn.__name__.removeprefix("bench_")
    mine, theirs = context.Pipe()
    process = context.Process(target=_measured, args=(theirs, fn, *args), name=f"bench-{name}")
    process.start()
    theirs.close()
    try:
        result = receive((process, mine), name, "result")
        process.join()
        return result
    finally:
        if process.is_alive():
            process.terminate()
            process.join()
        mine.close()


def _measured(conn: Connection, fn: Any, *args: Any) -> None:
    try:
        result = fn(*args)
        result.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        conn.send(("result", dict(result)))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
