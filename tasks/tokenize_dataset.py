"""Step: re-tokenize the corpus for the base model, re-aligning word labels to sub-words."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key, fingerprint_path, produce
from nerflow.config import DataConfig, ModelConfig, resolve_base_model
from nerflow.corpus.tokenize import tokenize_corpus
from nerflow.inference.tokenizer import load_tokenizer
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode

CODE = StepCode(
    ("nerflow.tasks.tokenize_dataset", "nerflow.corpus", "nerflow.inference.tokenizer",
     "nerflow.inference.mentions", "nerflow.config")
)  # fmt: skip


def tokenize_dataset(
    dataset_dir: Path, model: ModelConfig, data: DataConfig, work_dir: Path
) -> Path:
    """The tokenized splits and the tokenizer under `work_dir/tokenized/<key>`."""
    tokenizer = load_tokenizer(resolve_base_model(model.base_model), model.revision)
    key = content_key(
        fingerprint_path(dataset_dir),
        model.base_model,
        model.revision,
        tokenizer.backend_tokenizer.to_str(),
        data.max_length,
        data.label_all_subwords,
        CODE.version(),
    )
    return produce(
        work_dir / "tokenized" / key, lambda out: tokenize_corpus(dataset_dir, tokenizer, data, out)
    )


tokenize_dataset_task = cached_task(tokenize_dataset, CODE, name="tokenize-dataset")
