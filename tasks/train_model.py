"""Fine-tune a token-classification model with the transformers Trainer."""

from __future__ import annotations

import codecs
import json
import logging
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
from datasets import DatasetDict, load_from_disk
from torch.utils.data import DataLoader, Sampler
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    EvalPrediction,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from tasks.caching import (
    atomic_dir,
    cached_task,
    code_version,
    content_key,
    fingerprint_path,
    is_complete,
)
from tasks.config import ModelConfig, TrainingConfig, resolve_base_model
from tasks.load_tokenizer import load_tokenizer
from tasks.read_conll import LABELS
from tasks.report_progress import PrefectProgress
from tasks.score_entities import flat_metrics, score_entities
from tasks.select_device import pick_device
from tasks.tokenize_dataset import IGNORE

logger = logging.getLogger(__name__)

#: Written into the saved model folder: device, precision, timings, per-epoch history.
TRAINING_META = "training_meta.json"


def freeze_all_but_last(model: PreTrainedModel, n_layers: int) -> int:
    """Freeze the encoder except its last `n_layers` layers; the head stays trainable.

    Returns the number of trainable parameters left.
    """
    pattern = re.compile(r"\.(?:layer|layers|block)\.(\d+)\.")
    base = model.base_model_prefix
    depths = [
        int(m.group(1)) for name, _ in model.named_parameters() if (m := pattern.search(name))
    ]
    if not depths:
        raise ValueError(f"{type(model).__name__}: cannot find numbered encoder layers to freeze")
    first_trainable = max(depths) + 1 - n_layers
    for name, param in model.named_parameters():
        match = pattern.search(name)
        in_encoder = name.startswith(base + ".")
        param.requires_grad = not in_encoder or (
            match is not None and int(match.group(1)) >= first_trainable
        )
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def decode_labels(
    predictions: np.ndarray, labels: np.ndarray
) -> tuple[list[list[str]], list[list[str]]]:
    """Turn logits-argmax and gold ids into tag sequences, skipping ignored (-100) positions."""
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    for p_row, l_row in zip(predictions, labels, strict=True):
        keep = l_row != IGNORE
        gold.append([LABELS[i] for i in l_row[keep]])
        pred.append([LABELS[i] for i in p_row[keep]])
    return gold, pred


def _compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = (
        prediction.predictions[0]
        if isinstance(prediction.predictions, tuple)
        else prediction.predictions
    )
    gold, pred = decode_labels(np.argmax(logits, axis=-1), np.asarray(prediction.label_ids))
    return flat_metrics(score_entities(gold, pred))


def last_complete_checkpoint(folder: Path, remove_partial: bool = True) -> Path | None:
    """The newest checkpoint that was completely written (its trainer state comes last).

    A process killed while saving leaves a checkpoint folder without `trainer_state.json`;
    resuming from it would fail, so it is skipped (and removed).
    """
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for checkpoint in found:
        if (checkpoint / "trainer_state.json").is_file():
            return checkpoint
        if remove_partial:
            logger.warning("removing %s: written only in part when training stopped", checkpoint)
            shutil.rmtree(checkpoint, ignore_errors=True)
    return None


class SystemSampler(TrainerCallback):
    """Samples CPU use, resident memory and GPU memory every few steps while training."""

    def __init__(self, every_steps: int = 20) -> None:
        self.every_steps = every_steps
        self.samples: list[dict[str, float]] = []
        self._process = psutil.Process()
        self._process.cpu_percent()  # the first reading only starts the clock

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Record one sample at every `every_steps`-th step."""
        if state.global_step % self.every_steps:
            return
        sample = {
            "step": float(state.global_step),
            "cpu_percent": self._process.cpu_percent(),
            "rss_mb": self._process.memory_info().rss / 2**20,
        }
        if torch.cuda.is_available():
            sample["gpu_memory_mb"] = torch.cuda.memory_allocated() / 2**20
        self.samples.append(sample)


class TokenBudgetSampler(Sampler[list[int]]):
    """Batches of similar-length tweets whose padded size (longest x count) fits a budget.

    Short tweets travel in big batches and long ones in small, so each step costs about
    the same and almost no compute goes to padding. Batch order is reshuffled each epoch.
    """

    def __init__(self, lengths: list[int], budget: int, seed: int) -> None:
        if max(lengths, default=0) > budget:
            raise ValueError(f"a tweet of {max(lengths)} sub-words exceeds the budget {budget}")
        self.batches = token_budget_batches(lengths, budget)
        self.seed = seed
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.batches)))
        random.Random(self.seed + self.epoch).shuffle(order)
        self.epoch += 1
        return (self.batches[i] for i in order)

    def __len__(self) -> int:
        return len(self.batches)


def token_budget_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Cut length-sorted indices into batches whose longest x count stays within `budget`."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # sorted ascending, so the newcomer is the longest of its batch
        if current and lengths[index] * (len(current) + 1) > budget:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class _TokenBudgetTrainer(Trainer):
    """A Trainer whose training batches come from a `TokenBudgetSampler`."""

    def __init__(self, *args: Any, token_budget: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token_budget = token_budget

    def get_train_dataloader(self) -> DataLoader:
        """Token-budget batches instead of a fixed batch size."""
        assert self.train_dataset is not None
        lengths = list(self.train_dataset["length"])
        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        loader = DataLoader(
            dataset,
            batch_sampler=TokenBudgetSampler(lengths, self.token_budget, self.args.seed),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)


def train_model(
    tokenized_dir: Path, model: ModelConfig, training: TrainingConfig, work_dir: Path
) -> Path:
    """Fine-tune on the train split, keep the best epoch by validation entity F1, save it."""
    begun = time.perf_counter()
    key = content_key(fingerprint_path(tokenized_dir), model, training, code_version(train_model))
    out = work_dir / "models" / key
    if is_complete(out):
        return out
    # With LOCAL_RANK set this process is already a torchrun rank: train here, spawn nothing.
    if training.processes > 1 and "LOCAL_RANK" not in os.environ:
        _launch(tokenized_dir, model, training, work_dir, key, out)
    else:
        _fit(tokenized_dir, model, training, work_dir, key, out, begun)
    return out


def _launch(
    tokenized_dir: Path,
    model: ModelConfig,
    training: TrainingConfig,
    work_dir: Path,
    key: str,
    out: Path,
) -> None:
    """Run `_fit` in `training.processes` torchrun ranks and check that rank 0 saved `out`."""
    device, _ = pick_device(training.device)
    if device == "cuda" and training.processes > torch.cuda.device_count():
        raise ValueError(
            f"training.processes={training.processes} but only "
            f"{torch.cuda.device_count()} CUDA device(s) are visible: one process per GPU"
        )
    # The ranks get key and out as computed here: under `python -m` this module is
    # __main__, so its code version (part of the key) would come out different there.
    spec = {
        "tokenized_dir": str(tokenized_dir.resolve()),
        "model": model.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "work_dir": str(work_dir.resolve()),
        "key": key,
        "out": str(out.resolve()),
    }
    handle, name = tempfile.mkstemp(prefix=f"nerflow-train-{key}-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as spec_file:
        json.dump(spec, spec_file, indent=2)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={training.processes}",
        "-m",
        "tasks.train_model",
        name,
    ]
    logger.info("training in %d processes: %s", training.processes, " ".join(command))
    code, tail = _run_echoing_stderr(command)
    if code != 0:
        raise RuntimeError(
            f"distributed training failed (exit {code}; spec {name}, rerun with: "
            f"{' '.join(command)}); last stderr:\n{tail}"
        )
    if not is_complete(out):
        raise RuntimeError(f"distributed training exited cleanly but did not save {out}")
    os.unlink(name)  # kept on failure: the error message points at it for a rerun


def _run_echoing_stderr(command: list[str], keep: int = 6000) -> tuple[int, str]:
    """Run `command`, passing its stderr through live; return its exit code and stderr's tail."""
    root = str(Path(__file__).resolve().parents[1])
    # The ranks must import this same project, not a `tasks` package in the working folder.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.getenv("PYTHONPATH")])),
    }
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    with subprocess.Popen(command, stderr=subprocess.PIPE, env=env) as process:
        assert process.stderr is not None
        try:  # raw chunks, not lines: progress bars redraw with \r and would stall
            while chunk := os.read(process.stderr.fileno(), 1 << 16):
                text = decoder.decode(chunk)
                sys.stderr.write(text)
                sys.stderr.flush()
                tail = (tail + text)[-keep:]
        except BaseException:  # cancelled: torchrun passes SIGTERM on to its ranks
            process.terminate()
            raise
    return process.returncode, tail


def _fit(
    tokenized_dir: Path,
    model: ModelConfig,
    training: TrainingConfig,
    work_dir: Path,
    key: str,
    out: Path,
    begun: float,
) -> None:
    """Train and, on rank 0 only, save the model to `out` and drop its checkpoints."""
    device, precision = pick_device(training.device)
    torch.manual_seed(training.seed)
    data: DatasetDict = load_from_disk(str(tokenized_dir / "dataset"))
    tokenizer = load_tokenizer(str(tokenized_dir / "tokenizer"))
    source = resolve_base_model(model.base_model)
    try:
        network = AutoModelForTokenClassification.from_pretrained(
            source,
            revision=model.revision,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
            trust_remote_code=False,
            use_safetensors=True,
        )
    except OSError as exc:
        raise ValueError(f"base model {model.base_model!r}: cannot load ({exc})") from exc
    if model.train_last_layers is not None:
        trainable = freeze_all_but_last(network, model.train_last_layers)
        logger.info(
            "training only the last %d layers: %d parameters", model.train_last_layers, trainable
        )

    checkpoints = work_dir / "checkpoints" / key
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=training.epochs,
        max_steps=training.max_steps or -1,
        learning_rate=training.learning_rate,
        # batch_size is the global batch: each of the processes takes its share.
        per_device_train_batch_size=max(1, training.batch_size // training.processes),
        per_device_eval_batch_size=training.eval_batch_size,
        weight_decay=training.weight_decay,
        warmup_steps=training.warmup_ratio,
        lr_scheduler_type="linear",
        train_sampling_strategy=training.sampling,
        eval_strategy="epoch" if training.max_steps is None else "steps",
        save_strategy="epoch" if training.max_steps is None else "steps",
        eval_steps=training.max_steps or 500,
        save_steps=training.max_steps or 500,
        logging_strategy="steps",
        logging_steps=min(20, training.max_steps or 20),
        load_best_model_at_end=True,
        metric_for_best_model="f1",
        greater_is_better=True,
        save_total_limit=2,
        seed=training.seed,
        data_seed=training.seed,
        use_cpu=device == "cpu",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=device == "cuda" and precision == "bf16",
        dataloader_pin_memory=device == "cuda",
        # GPU: feed it from worker processes and use the fused AdamW kernel.
        dataloader_num_workers=2 if device == "cuda" else 0,
        optim="adamw_torch_fused" if device == "cuda" else "adamw_torch",
        report_to="none",
        save_only_model=False,
    )
    budget = training.max_tokens_per_batch
    extra: dict[str, Any] = {"token_budget": budget} if budget else {}
    trainer = (_TokenBudgetTrainer if budget else Trainer)(
        **extra,
        model=network,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        data_collator=DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=8 if device == "cuda" else None
        ),
        processing_class=tokenizer,
        compute_metrics=_compute_metrics,
        callbacks=[PrefectProgress(), sampler := SystemSampler(min(20, training.max_steps or 20))],
    )
    # Ranks of a multi-process run only read: a removal by one while others look is a race.
    last = last_complete_checkpoint(checkpoints, remove_partial=training.processes == 1)
    resume = last is not None
    if resume:
        logger.info("resuming from %s", last)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    seconds = time.perf_counter() - started
    # Trainer has no barrier after loading the best checkpoint: without this, rank 0 could
    # delete the checkpoints while another rank is still reading them.
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return  # one writer: concurrent atomic_dir clean-ups would delete each other's scratch
    meta: dict[str, Any] = {
        "key": key,
        "base_model": model.base_model,
        "base_model_identity": model.cache_identity()["weights"],
        "device": device,
        "precision": precision,
        "processes": args.world_size,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "train_seconds": seconds,
        "train_tweets": len(data["train"]),
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "global_steps": result.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_f1": trainer.state.best_metric,
        "resumed": resume,
        "log_history": trainer.state.log_history,
        "system_samples": sampler.samples,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trainable_parameters": sum(p.numel() for p in network.parameters() if p.requires_grad),
    }
    with atomic_dir(out, key, begun) as scratch:
        trainer.save_model(str(scratch))
        tokenizer.save_pretrained(str(scratch))
        (scratch / TRAINING_META).write_text(
            json.dumps(meta, indent=2, default=str), encoding="utf-8"
        )
    shutil.rmtree(checkpoints, ignore_errors=True)


def read_training_meta(model_dir: Path) -> dict[str, Any]:
    """The metadata `train_model` saved beside the model."""
    return json.loads((model_dir / TRAINING_META).read_text(encoding="utf-8"))


train_model_task = cached_task(train_model, name="train-model", retries=1, retry_delay_seconds=5)


if __name__ == "__main__":  # one torchrun rank, started by `_launch` with a spec file
    from torch.distributed.elastic.multiprocessing.errors import record

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)  # our own progress lines, not every library's
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    # record: torchrun's failure summary (the end of stderr) then shows the rank's exception.
    record(_fit)(
        Path(job["tokenized_dir"]),
        ModelConfig.model_validate(job["model"]),
        TrainingConfig.model_validate(job["training"]),
        Path(job["work_dir"]),
        job["key"],
        Path(job["out"]),
        time.perf_counter(),
    )
