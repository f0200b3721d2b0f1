"""The fine-tuning itself: the transformers Trainer on the tokenized splits, best epoch kept."""

from __future__ import annotations

import json
import logging
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import DatasetDict, load_from_disk
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    EvalPrediction,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from nerflow.config import ModelConfig, TrainingConfig, resolve_base_model
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import IGNORE
from nerflow.inference.device import pick_device, training_precision
from nerflow.inference.tokenizer import load_tokenizer
from nerflow.metrics.scores import flat_metrics, score_entities
from nerflow.outputs import StepStopped
from nerflow.training.batching import TokenBudgetTrainer
from nerflow.training.checkpoints import last_complete_checkpoint
from nerflow.training.freeze import freeze_all_but_last
from nerflow.training.monitor import SystemSampler

logger = logging.getLogger(__name__)


class TrainingStopped(StepStopped):
    """A callback stopped the training on purpose (a pruned trial): not a failure to retry."""


#: Written into the saved model folder: device, precision, timings, per-epoch history.
TRAINING_META = "training_meta.json"


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


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Entity scores of one evaluation, flattened for the Trainer's log."""
    logits = (
        prediction.predictions[0]
        if isinstance(prediction.predictions, tuple)
        else prediction.predictions
    )
    gold, pred = decode_labels(np.argmax(logits, axis=-1), np.asarray(prediction.label_ids))
    return flat_metrics(score_entities(gold, pred))


def fit(
    tokenized_dir: Path,
    model: ModelConfig,
    training: TrainingConfig,
    checkpoints: Path,
    out: Path,
    key: str,
    callbacks: list[TrainerCallback] | None = None,
) -> None:
    """Train (resuming from `checkpoints`); rank 0 alone saves the model and its meta in `out`."""
    device = pick_device(training.device)[0]
    precision = training_precision(device, training.precision)
    torch.manual_seed(training.seed)
    data: DatasetDict = load_from_disk(str(tokenized_dir / "dataset"))
    tokenizer = load_tokenizer(str(tokenized_dir / "tokenizer"))
    source = resolve_base_model(model.base_model)
    dropout: dict[str, float] = (
        {}
        if model.dropout is None
        else {"hidden_dropout_prob": model.dropout, "attention_probs_dropout_prob": model.dropout}
    )
    try:
        network = AutoModelForTokenClassification.from_pretrained(
            source,
            **dropout,
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

    args = training_arguments(training, device, precision, checkpoints)
    budget = training.max_tokens_per_batch
    extra: dict[str, Any] = {"token_budget": budget} if budget else {}
    trainer = (TokenBudgetTrainer if budget else Trainer)(
        **extra,
        model=network,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        data_collator=DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=8 if device == "cuda" else None
        ),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[*(callbacks or []), sampler := SystemSampler(min(20, training.max_steps or 20))],
    )
    # Ranks of a multi-process run only read: a removal by one while others look is a race.
    last = last_complete_checkpoint(checkpoints, remove_partial=training.processes == 1)
    resume = last is not None
    if resume:
        logger.info("resuming from %s", last)
    started = time.perf_counter()
    started_at = time.time()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    seconds = time.perf_counter() - started
    # Trainer has no barrier after loading the best checkpoint: without this, rank 0 could
    # delete the checkpoints while another rank is still reading them.
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return  # one writer
    meta: dict[str, Any] = {
        "key": key,
        "base_model": model.base_model,
        "base_model_identity": model.cache_identity()["weights"],
        "device": device,
        "precision": precision,
        "processes": args.world_size,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "train_seconds": seconds,
        "train_started_at": started_at,
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
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    (out / TRAINING_META).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def read_training_meta(model_dir: Path) -> dict[str, Any]:
    """The metadata `fit` saved beside the model."""
    return json.loads((model_dir / TRAINING_META).read_text(encoding="utf-8"))


#: With `max_steps`, evaluate and checkpoint at least this often (in optimizer steps).
CHECKPOINT_STEPS = 200


def training_arguments(
    training: TrainingConfig, device: str, precision: str, checkpoints: Path
) -> TrainingArguments:
    """The Trainer's arguments: schedule, batches, precision, checkpoints, best-epoch keeping."""
    every = min(training.max_steps, CHECKPOINT_STEPS) if training.max_steps else CHECKPOINT_STEPS
    return TrainingArguments(
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
        # By steps too when the run is counted in steps: a kill loses at most this many.
        eval_steps=every,
        save_steps=every,
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
