"""The one way every step loads a tokenizer: fast only, no remote code."""

# A module of its own: the tokenizing and training steps' keys cover it, and an edit to
# prediction must not retrain the model.

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase


def load_tokenizer(
    name_or_path: str, revision: str | None = None, what: str = "base model"
) -> PreTrainedTokenizerBase:
    """A fast tokenizer (word alignment needs its word ids), refusing slow ones clearly."""
    if name_or_path.startswith(("/", "./", "../", "~")) and not Path(name_or_path).exists():
        raise ValueError(f"{what} {name_or_path!r}: no such folder")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name_or_path, revision=revision, use_fast=True, trust_remote_code=False
        )
    except (OSError, ValueError) as exc:  # a missing folder, or one without tokenizer files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{what} {name_or_path!r}: no tokenizer found ({first})") from exc
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: needs a fast tokenizer to align word labels")
    return tokenizer
