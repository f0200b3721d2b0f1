"""The seed notebook's pipeline against nerflow's: tokenizing and training throughput."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nerflow.bench.common import (
    PROJECT_BATCH,
    PROJECT_MAX_LENGTH,
    SEED_BATCH,
    SEED_MAX_LENGTH,
    TOKEN_BUDGET,
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


def bench_train(btc_dir: Path, work: Path, variant: str, steps: int) -> dict[str, Any]:
    import torch
    from datasets import disable_progress_bars
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    from nerflow.config import resolve_base_model
    from nerflow.corpus.labels import LABELS
    from nerflow.corpus.tokenize import encode_split
    from nerflow.training.batching import TokenBudgetTrainer
    from nerflow.training.freeze import freeze_all_but_last

    disable_progress_bars()
    torch.manual_seed(0)
    train, tok = corpus(btc_dir, work)["train"], tokenizer()
    model = AutoModelForTokenClassification.from_pretrained(
        resolve_base_model(DEFAULT_BASE_MODEL), num_labels=len(LABELS), use_safetensors=True
    )
    if variant == "seed":
        data = seed_encode(tok, train)
        freeze_all_but_last(model, 1)
        collator = _CountingCollator(default_data_collator)
        batch, sampling = SEED_BATCH, "random"
    else:
        data = encode_split(tok, train, PROJECT_MAX_LENGTH)
        collator = _CountingCollator(DataCollatorForTokenClassification(tok))
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
    trainer_class = TokenBudgetTrainer if variant == "token_budget" else Trainer
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
