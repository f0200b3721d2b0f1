"""The fine-tuning itself: the transformers Trainer on the tokenized splits, best epoch kept."""

from __future__ import annotations

import logging
import re
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict, load_from_disk
from pydantic import BaseModel
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from nerflow.cache import StepStopped
from nerflow.config import ModelConfig, TrainingConfig, resolve_base_model
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import read_convention
from nerflow.inference.device import pick_device, training_precision
from nerflow.inference.mentions import CONFIG_ATTRIBUTE
from nerflow.inference.tokenizer import load_tokenizer
from nerflow.metrics.scores import EntityMetrics, mention_id
from nerflow.training.batching import TokenBudgetTrainer
from nerflow.training.meta import TrainingMeta
from nerflow.training.monitor import SystemSampler

logger = logging.getLogger(__name__)


class TrainingStopped(StepStopped):
    """A callback stopped the training on purpose (a pruned trial): not a failure to retry."""


class FitJob(BaseModel):
    """One training: the tokenized data, the configs, where checkpoints and the model go."""

    tokenized_dir: Path
    model: ModelConfig
    training: TrainingConfig
    checkpoints: Path
    out: Path
    key: str


def fit(job: FitJob, callbacks: list[TrainerCallback] | None = None) -> None:
    """Train (resuming from `job.checkpoints`); rank 0 alone saves the model and its meta."""
    training = job.training
    device = pick_device(training.device)[0]
    precision = training_precision(device, training.precision)
    torch.manual_seed(training.seed)
    data: DatasetDict = load_from_disk(str(job.tokenized_dir / "dataset"))
    tokenizer = load_tokenizer(str(job.tokenized_dir / "tokenizer"))
    network = load_network(job.model)
    convention = read_convention(job.tokenized_dir)
    # The model carries its convention (config.json): prediction decodes `@` by it.
    setattr(network.config, CONFIG_ATTRIBUTE, convention)
    sampler = SystemSampler(min(20, training.max_steps or 20))
    metrics = EntityMetrics(mention_id(tokenizer, convention), tokenizer.all_special_ids)
    args = training_arguments(training, device, precision, job.checkpoints, metrics.mention_id)
    trainer = build_trainer(
        training, network, args, data, tokenizer, metrics, [*(callbacks or []), sampler]
    )
    # Ranks of a multi-process run only read: a removal by one while others look is a race.
    last = last_complete_checkpoint(job.checkpoints, remove_partial=training.processes == 1)
    if last is not None:
        logger.info("resuming from %s", last)
    started, started_at = time.perf_counter(), time.time()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    seconds = time.perf_counter() - started
    # Trainer has no barrier after loading the best checkpoint: without this, rank 0 could
    # delete the checkpoints while another rank is still reading them.
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return  # one writer
    meta = TrainingMeta(
        key=job.key,
        base_model=job.model.base_model,
        base_model_identity=job.model.cache_identity()["weights"],
        device=device,
        precision=precision,
        processes=args.world_size,
        per_device_train_batch_size=args.per_device_train_batch_size,
        train_seconds=seconds,
        train_started_at=started_at,
        train_tweets=len(data["train"]),
        train_samples_per_second=result.metrics.get("train_samples_per_second"),
        global_steps=result.global_step,
        best_checkpoint=trainer.state.best_model_checkpoint,
        best_validation_f1=trainer.state.best_metric,
        resumed=last is not None,
        log_history=trainer.state.log_history,
        system_samples=sampler.samples,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        trainable_parameters=sum(p.numel() for p in network.parameters() if p.requires_grad),
    )
    trainer.save_model(str(job.out))
    tokenizer.save_pretrained(str(job.out))
    meta.write(job.out)


def build_trainer(
    training: TrainingConfig,
    network: PreTrainedModel,
    args: TrainingArguments,
    data: DatasetDict,
    tokenizer: Any,
    metrics: EntityMetrics,
    callbacks: list[TrainerCallback],
) -> Trainer:
    """The Trainer on the train and validation splits; token-budget batches when asked."""
    budget = training.max_tokens_per_batch
    extra: dict[str, Any] = {"token_budget": budget} if budget else {}
    return (TokenBudgetTrainer if budget else Trainer)(
        **extra,
        model=network,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        # On CUDA, padding to a multiple of 8 lets the tensor cores take every matmul.
        data_collator=DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=None if args.use_cpu else 8
        ),
        processing_class=tokenizer,
        compute_metrics=metrics,
        callbacks=callbacks,
    )


def load_network(model: ModelConfig) -> PreTrainedModel:
    """The base model with a fresh token-classification head over LABELS, frozen as asked."""
    dropout: dict[str, float] = (
        {}
        if model.dropout is None
        else {"hidden_dropout_prob": model.dropout, "attention_probs_dropout_prob": model.dropout}
    )
    try:
        network = AutoModelForTokenClassification.from_pretrained(
            resolve_base_model(model.base_model),
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
    return network


#: With `max_steps`, evaluate and checkpoint at least this often (in optimizer steps).
CHECKPOINT_STEPS = 200


def training_arguments(
    training: TrainingConfig,
    device: str,
    precision: str,
    checkpoints: Path,
    mention_id: int | None = None,
) -> TrainingArguments:
    """The Trainer's arguments: schedule, batches, precision, checkpoints, best-epoch keeping
    (on the input ids too when `@` is decoded by `mention_id`)."""
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
        include_for_metrics=["inputs"] if mention_id is not None else [],
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


def last_complete_checkpoint(folder: Path, remove_partial: bool = True) -> Path | None:
    """The newest checkpoint completely written; partial ones (no trainer state) are skipped."""
    # A process killed while saving leaves no `trainer_state.json` (written last); resuming
    # from such a folder would fail.
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


def freeze_all_but_last(model: PreTrainedModel, n_layers: int) -> int:
    """Freeze the encoder but its last `n_layers` layers (the head trains), as the seed notebook
    did; the trainable parameter count."""
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
