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
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tasks.config import DEFAULT_BASE_MODEL

SEED_MAX_LENGTH = 512
SEED_BATCH = 8
PROJECT_BATCH = 32
PROJECT_MAX_LENGTH = 128
TOKEN_BUDGET = 1024

#: Dense bf16/fp16 tensor-core peak (FLOP/s) by GPU name, for model-FLOPs utilisation.
GPU_PEAK_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "V100": 125e12,
    "T4": 65e12,
}


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
        results["tokenize"] = _in_child(_bench_tokenize, btc_dir, work)
        for name in ("seed", "project", "token_budget"):
            results[f"train_{name}"] = _in_child(
                _bench_train, btc_dir, work, name, plan.train_steps
            )
        results["flow"] = _in_child(_bench_flow, btc_dir, work, plan.flow_max_steps)
        # On the model the flow trained: accuracy per precision means something only there.
        results["inference"] = _in_child(_bench_inference, btc_dir, work, plan.infer_tweets)
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


def _corpus(btc_dir: Path, work: Path) -> Any:
    from datasets import load_from_disk

    from tasks.config import DataConfig
    from tasks.download_dataset import download_dataset

    return load_from_disk(str(download_dataset(DataConfig(local_dir=btc_dir), work) / "dataset"))


def _tokenizer() -> Any:
    from tasks.config import resolve_base_model
    from tasks.load_tokenizer import load_tokenizer

    return load_tokenizer(resolve_base_model(DEFAULT_BASE_MODEL))


def seed_encode(tokenizer: Any, ds: Any) -> Any:
    """The seed notebook's tokenization: padded to 512, every sub-word carries its word's label."""

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        encoded = tokenizer(
            batch["tokens"],
            is_split_into_words=True,
            truncation=True,
            padding="max_length",
            max_length=SEED_MAX_LENGTH,
        )
        encoded["labels"] = [
            [-100 if w is None else tags[w] for w in encoded.word_ids(i)]
            for i, tags in enumerate(batch["ner_tags"])
        ]
        return dict(encoded)

    return ds.map(encode, batched=True, remove_columns=ds.column_names)


def _bench_tokenize(btc_dir: Path, work: Path) -> dict[str, Any]:
    from datasets import disable_progress_bars

    from tasks.tokenize_dataset import encode_split

    disable_progress_bars()
    corpus, tokenizer = _corpus(btc_dir, work), _tokenizer()
    started = time.perf_counter()
    for split in corpus.values():
        seed_encode(tokenizer, split)
    seed = time.perf_counter() - started
    started = time.perf_counter()
    for split in corpus.values():
        encode_split(tokenizer, split, PROJECT_MAX_LENGTH)
    return {"seed_seconds": seed, "project_seconds": time.perf_counter() - started}


class _CountingCollator:
    """Wraps a collator to count tweets, positions and real (non-pad) sub-words seen."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tweets = self.positions = self.real = 0

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        batch = self.inner(features)
        self.tweets += len(features)
        self.positions += int(batch["attention_mask"].numel())
        self.real += int(batch["attention_mask"].sum())
        return batch


def _bench_train(btc_dir: Path, work: Path, variant: str, steps: int) -> dict[str, Any]:
    import torch
    from datasets import disable_progress_bars
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    from tasks.config import resolve_base_model
    from tasks.read_conll import LABELS
    from tasks.tokenize_dataset import encode_split
    from tasks.train_model import _TokenBudgetTrainer, freeze_all_but_last

    disable_progress_bars()
    torch.manual_seed(0)
    train, tokenizer = _corpus(btc_dir, work)["train"], _tokenizer()
    model = AutoModelForTokenClassification.from_pretrained(
        resolve_base_model(DEFAULT_BASE_MODEL), num_labels=len(LABELS), use_safetensors=True
    )
    if variant == "seed":
        data = seed_encode(tokenizer, train)
        freeze_all_but_last(model, 1)
        collator = _CountingCollator(default_data_collator)
        batch, sampling = SEED_BATCH, "random"
    else:
        data = encode_split(tokenizer, train, PROJECT_MAX_LENGTH)
        collator = _CountingCollator(DataCollatorForTokenClassification(tokenizer))
        batch, sampling = PROJECT_BATCH, "group_by_length"
    args = TrainingArguments(
        output_dir=str(work / f"bench-{variant}"),
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=1e-4,
        train_sampling_strategy=sampling,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        seed=0,
    )
    extra: dict[str, Any] = {"token_budget": TOKEN_BUDGET} if variant == "token_budget" else {}
    trainer_class = _TokenBudgetTrainer if variant == "token_budget" else Trainer
    trainer = trainer_class(
        model=model, args=args, train_dataset=data, data_collator=collator, **extra
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {
        "steps": steps,
        "seconds": seconds,
        "tweets_per_s": collator.tweets / seconds,
        "tokens_per_s": collator.real / seconds,
        "padding_fraction": 1 - collator.real / max(collator.positions, 1),
    }


def _bench_inference(btc_dir: Path, work: Path, tweets: int) -> dict[str, Any]:
    """Per-tweet pipeline against batched predict (fp32 and the default precision).

    All on the model the flow run trained, with the entity F1 each precision scores on the
    validation split, so a faster precision shows what it costs.
    """
    from transformers import pipeline

    from tasks.predict_entities import EntityPredictor, predict_word_tags
    from tasks.score_entities import score_entities

    folder = _trained_model(work)
    validation = _corpus(btc_dir, work)["validation"]
    texts = [" ".join(t) for t in validation["tokens"][:tweets]]
    warm_up = [" ".join(t) for t in validation["tokens"][-8:]]
    ner = pipeline("token-classification", model=str(folder), aggregation_strategy="simple")
    for text in warm_up:
        ner(text)
    started = time.perf_counter()
    for text in texts:
        ner(text)
    result: dict[str, Any] = {
        "tweets": len(texts),
        "per_tweet_tweets_per_s": len(texts) / (time.perf_counter() - started),
        "scored_tweets": len(validation),
    }
    names = validation.features["ner_tags"].feature.names
    gold = [[names[t] for t in tags] for tags in validation["ner_tags"]]
    for precision in ("fp32", "auto"):
        predictor = EntityPredictor(folder, PROJECT_MAX_LENGTH, precision=precision)
        predictor.predict(warm_up)
        started = time.perf_counter()
        predictor.predict(texts)
        tweets_per_s = len(texts) / (time.perf_counter() - started)
        predicted, _ = predict_word_tags(
            predictor.tokenizer, predictor.network, validation["tokens"], PROJECT_MAX_LENGTH
        )
        key = "fp32" if precision == "fp32" else "default"
        result[f"batched_{key}_tweets_per_s"] = tweets_per_s
        result[f"f1_{key}"] = score_entities(gold, predicted)["f1"]
        result[f"{key}_dtype"] = str(predictor.network.dtype).removeprefix("torch.")
    result["batched_tweets_per_s"] = result["batched_default_tweets_per_s"]
    return result


def _trained_model(work: Path) -> Path:
    """The model folder the benchmark's flow run saved."""
    found = [p for p in (work / "flow" / "models").iterdir() if (p / "config.json").exists()]
    if len(found) != 1:
        raise RuntimeError(f"{work / 'flow' / 'models'}: expected one trained model, found {found}")
    return found[0]


def _bench_flow(btc_dir: Path, work: Path, max_steps: int | None) -> dict[str, Any]:
    """Two `nerflow train` commands as a user types them: cold, then fully cached."""
    import subprocess
    import sys

    from tasks.caching import compute_seconds

    # A private Prefect home and MLflow store: the first run starts cold, as a user's would.
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    (work / "mlruns").mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "flows.cli", "train", "--data-dir", str(btc_dir),
        "--work-dir", str(work / "flow"), "--json", str(work / "summary.json"),
        "--tracking-uri", f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
    ] + (["--max-steps", str(max_steps)] if max_steps else [])  # fmt: skip
    walls = []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nerflow train failed ({done.returncode}): {done.stderr[-2000:]}")
        walls.append(time.perf_counter() - started)
    folders = [
        folder
        for step in ("datasets", "tokenized", "models", "reports")
        for folder in (work / "flow" / step).iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    ]
    task_seconds = sum(compute_seconds(p) or 0.0 for p in folders)
    summary = json.loads((work / "summary.json").read_text(encoding="utf-8"))
    return {
        "steps": f"{max_steps} steps" if max_steps else "default: 3 epochs",
        "first_run_seconds": walls[0],
        "cached_rerun_seconds": walls[1],
        "task_seconds": task_seconds,
        "overhead_seconds": walls[0] - task_seconds,
        "test_f1": summary["scores"]["test"]["overall"]["f1"],
    }


def gpu_benchmark(
    steps: int = 60, batch: int = 64, seq_len: int = 64, peak_flops: float | None = None
) -> dict[str, Any]:
    """Training tokens/s and model-FLOPs utilisation of a random-init bert-base-cased shape.

    The utilisation is against `peak_flops` when given, else the dense bf16/fp16 peak
    looked up by device name (`GPU_PEAK_FLOPS`); unknown devices get none.
    """
    import torch
    from transformers import BertConfig

    if not torch.cuda.is_available():
        raise RuntimeError("the GPU benchmark needs a CUDA device; none is available")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    config: Any = BertConfig(vocab_size=28996)  # bert-base-cased's shape
    result = training_throughput(config, "cuda", dtype, steps, batch, seq_len)
    name = torch.cuda.get_device_name(0)
    peak = peak_flops or next((v for k, v in GPU_PEAK_FLOPS.items() if k in name), None)
    flops = result["model_flops_per_token"]
    return {
        "device": name,
        **result,
        "mfu": result["tokens_per_s"] * flops / peak if peak else None,
        "peak_flops": peak,
    }


def training_throughput(
    config: Any,
    device: str,
    dtype: Any,
    steps: int,
    batch: int,
    seq_len: int,
    learning_rate: float = 5e-5,
) -> dict[str, Any]:
    """Timed training steps (autocast, fused AdamW) of a random-init BERT built from `config`."""
    import torch
    from transformers import BertForTokenClassification

    config.num_labels = 7
    model = cast(Any, BertForTokenClassification)(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, fused=True)
    ids = torch.randint(0, config.vocab_size, (batch, seq_len), device=device)
    labels = torch.randint(0, 7, (batch, seq_len), device=device)
    warm_up = min(10, steps)  # the first steps warm kernels and the allocator up
    losses = []
    for step in range(steps + warm_up):
        if step == warm_up:
            _synchronize(device)
            started = time.perf_counter()
        with torch.autocast(device, dtype=dtype):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step in (0, steps + warm_up - 1):  # a sync each: only first and last
            losses.append(float(loss.detach()))
    _synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "dtype": str(dtype),
        "steps": steps,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "tokens_per_s": steps * batch * seq_len / seconds,
        "model_flops_per_token": training_flops_per_token(model, config, seq_len),
    }


def _synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def training_flops_per_token(model: Any, config: Any, seq_len: int) -> float:
    """6 x parameters (forward + backward matmuls) + attention scores, per token."""
    params = sum(p.numel() for p in model.parameters())
    attention = 12 * config.num_hidden_layers * config.hidden_size * seq_len
    return float(6 * params + attention)
