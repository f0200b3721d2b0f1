"""What the benchmark's measurements share: the settings compared, the corpus, the tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerflow.config import DEFAULT_BASE_MODEL, DataConfig

SEED_MAX_LENGTH = 512
SEED_BATCH = 8
PROJECT_BATCH = 32
PROJECT_MAX_LENGTH = DataConfig().max_length
TOKEN_BUDGET = 1024


def corpus(btc_dir: Path, work: Path) -> Any:
    """The BTC DatasetDict, built by the flow's own download step."""
    from datasets import load_from_disk

    from nerflow.tasks.download_dataset import download_dataset

    return load_from_disk(str(download_dataset(DataConfig(local_dir=btc_dir), work) / "dataset"))


def tokenizer() -> Any:
    """The base model's tokenizer."""
    from nerflow.config import resolve_base_model
    from nerflow.inference.tokenizer import load_tokenizer

    return load_tokenizer(resolve_base_model(DEFAULT_BASE_MODEL))
