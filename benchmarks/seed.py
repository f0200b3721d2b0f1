"""The seed notebook's pipeline against nerflow's: tokenizing and training throughput.

Training is timed in interleaved rounds: see `bench_train_rounds`.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from benchmarks.common import (
    PROJECT_BATCH,
    PROJECT_MAX_LENGTH,
    SEED_BATCH,
    SEED_MAX_LENGTH,
    TOKEN_BUDGET,
    BenchPlan,
    TrainVariant,
    corpus,
    tokenizer,
)
from nerflow.config import DEFAULT_BASE_MODEL


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


def bench_tokenize(btc_dir: Path, work: Path) -> dict[str, Any]:
    """Seconds to tokenize the whole corpus the seed's way and nerflow's."""
    from datasets import disable_progress_bars

    from nerflow.corpus.tokenize import encode_split

    disable_progress_bars()
    splits, tok = corpus(btc_dir, work), tokenizer()
    started = time.perf_counter()
    for split in splits.values():
        seed_encode(tok, split)
    seed = time.perf_counter() - started
    started = time.perf_counter()
    for split in splits.values():
        encode_split(tok, split, PROJECT_MAX_LENGTH)
    return {"seed_seconds": seed, "project_seconds": time.perf_counter() - started}


def round_order(names: list[str], round_index: int) -> list[str]:
    """Who trains when in a round: the list rotated one place further each round.

    Over len(names) rounds every variant takes every position once, so none always runs
    first (cold caches) or right after the heaviest one.
    """
    if not names:
        raise ValueError("no variants to order")
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def bench_train_rounds(
    btc_dir: Path, work: Path, variants: list[TrainVariant], plan: BenchPlan
) -> dict[str, Any]:
    """Every variant's training throughput, in interleaved rounds of a few steps each.

    Each round every variant in turn (`round_order`) runs `plan.steps_per_round` steps, so
    load from elsewhere on the machine falls on all of them alike, and a ratio compares two
    measurements taken within one round of each other. Each variant trains in one
    long-lived process that loads its model and data and runs its warm-up steps (side by
    side, untimed), then pauses inside its training loop between rounds; only one variant
    trains at any moment. A process per variant, not one per measurement, because a fresh
    process would pay its start-up (imports, model load, tokenizing, the first steps'
    allocations) inside every short round, a cost a real training run pays once; because
    it is one continuous training run, as `nerflow train`'s is, merely paused (optimizer
    state, sampler order and learning-rate schedule carry on across rounds); and because
    each process's peak memory stays its own.

    Returns each round's order and, per round and variant, what it trained (tweets, real
    and padded positions, steps), when it started (Unix time), its seconds and its peak
    RSS so far.
    """
    context = multiprocessing.get_context("spawn")
    workers: dict[str, tuple[BaseProcess, Connection]] = {}
    try:
        for variant in variants:
            mine, theirs = context.Pipe()
            process = context.Process(
                target=train_worker,
                args=(theirs, btc_dir, work, variant, plan),
                name=f"bench-train-{variant.name}",
            )
            process.start()
            theirs.close()
            workers[variant.name] = (process, mine)
        for name in workers:
            receive(workers[name], name, "ready")
        names = [v.name for v in variants]
        order, measured = [], []
        for index in range(plan.rounds):
            order.append(round_order(names, index))
            this_round = {}
            for name in order[-1]:
                workers[name][1].send("go")
                this_round[name] = receive(workers[name], name, "round")
            measured.append(this_round)
        for worker, _ in workers.values():
            worker.join()
    finally:
        for worker, conn in workers.values():
            if worker.is_alive():
                worker.terminate()
                worker.join()
            conn.close()
    return {"round_order": order, "rounds": measured}


def receive(worker: tuple[BaseProcess, Connection], name: str, expected: str) -> dict[str, Any]:
    """The next message from a benchmark process, which must be `expected`; its failure or
    unexpected end raised here as one error that names it."""
    process, conn = worker
    try:
        kind, payload = conn.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"the benchmark's {name} process ended unexpectedly (exit code {process.exitcode})"
        ) from None
    if kind == "error":
        raise RuntimeError(f"the benchmark's {name} process failed:\n{payload}")
    if kind != expected:
        raise RuntimeError(f"the benchmark's {name} process sent {kind!r}, expected {expected!r}")
    return dict(payload)


def train_worker(
    conn: Connection, btc_dir: Path, work: Path, variant: TrainVariant, plan: BenchPlan
) -> None:
    """One variant's side of the rounds (a spawned process): load, warm up, then obey `conn`.

    Sends ("ready", {}) after the warm-up, then waits for "go"; each "go" runs a round's
    steps and sends ("round", counts). An error goes back as ("error", traceback).
    """
    try:
        from transformers.utils import logging

        # Five processes' load reports and progress bars would bury the table.
        logging.set_verbosity_error()
        logging.disable_progress_bar()
        steps = plan.warmup_steps + plan.rounds * plan.steps_per_round
        trainer, collator = _trainer(btc_dir, work, variant, steps)
        trainer.add_callback(_RoundPacer(conn, collator, plan))
        trainer.train()
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class _CountingCollator:
    """Wraps a collator to note each batch's tweets, positions and real (non-pad) sub-words.

    Queued, not summed: the data loader collates a batch ahead of the step that trains it.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches: deque[tuple[int, int, int]] = deque()

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        batch = self.inner(features)
        mask = batch["attention_mask"]
        self.batches.append((len(features), int(mask.numel()), int(mask.sum())))
        return batch


class _RoundPacer(TrainerCallback):
    """Holds the training loop between rounds and times each round's steps.

    It waits in `on_step_end`, so a round's clock covers fetching and collating its
    batches as well as the steps, and nothing of the Trainer's set-up.
    """

    def __init__(self, conn: Connection, collator: _CountingCollator, plan: BenchPlan) -> None:
        self.conn, self.collator = conn, collator
        self.warmup, self.steps, self.rounds = plan.warmup_steps, plan.steps_per_round, plan.rounds
        self.done = 0
        self.started = self.started_at = 0.0
        self.counts = [0, 0, 0]

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        for i, n in enumerate(self.collator.batches.popleft()):
            self.counts[i] += n

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        trained = state.global_step - self.warmup
        if trained < 0 or trained % self.steps:
            return
        if trained == 0:
            self.conn.send(("ready", {}))
        else:
            tweets, positions, real = self.counts
            self.conn.send(("round", {
                "started": self.started_at, "steps": self.steps,
                "seconds": time.perf_counter() - self.started,
                "tweets": tweets, "positions": positions, "real": real,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }))  # fmt: skip
            self.done += 1
            if self.done == self.rounds:
                return
        if (message := self.conn.recv()) != "go":
            raise RuntimeError(f"expected 'go' from the benchmark, got {message!r}")
        self.counts = [0, 0, 0]
        self.started_at, self.started = time.time(), time.perf_counter()


def _trainer(
    btc_dir: Path, work: Path, variant: TrainVariant, max_steps: int
) -> tuple[Any, _CountingCollator]:
    """A Trainer for `variant` on the BTC train split, with its batches counted."""
    import torch
    from datasets import disable_progress_bars
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    from nerflow.config import resolve_base_model
    from nerflow.corpus.labels import LABELS
    from nerflow.corpus.tokenize import encode_split
    from nerflow.training.batching import TokenBudgetTrainer
    from nerflow.training.fit import freeze_all_but_last

    disable_progress_bars()
    torch.manual_seed(0)
    train, tok = corpus(btc_dir, work)["train"], tokenizer()
    model = AutoModelForTokenClassification.from_pretrained(
        resolve_base_model(DEFAULT_BASE_MODEL), num_labels=len(LABELS), use_safetensors=True
    )
    if variant.seed_recipe:
        data = seed_encode(tok, train)
        freeze_all_but_last(model, 1)
        collator = _CountingCollator(default_data_collator)
        batch, sampling = SEED_BATCH, "random"
    else:
        data = encode_split(tok, train, PROJECT_MAX_LENGTH)
        collator = _CountingCollator(DataCollatorForTokenClassification(tok))
        batch, sampling = PROJECT_BATCH, "group_by_length"
    args = TrainingArguments(
        output_dir=str(work / f"bench-{variant.name}"),
        max_steps=max_steps,
        per_device_train_batch_size=batch,
        learning_rate=1e-4,
        train_sampling_strategy=sampling,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        bf16=variant.bf16,
        seed=0,
    )
    extra: dict[str, Any] = {"token_budget": TOKEN_BUDGET} if variant.token_budget else {}
    trainer_class = TokenBudgetTrainer if variant.token_budget else Trainer
    trainer = trainer_class(
        model=model, args=args, train_dataset=data, data_collator=collator, **extra
    )
    trainer.remove_callback(PrinterCallback)  # its end-of-training line, per process
    return trainer, collator
