"""Checks that fail a run in seconds, before any work, instead of after the training."""

from __future__ import annotations

from nerflow.config import DataConfig, ModelConfig, TrackingConfig, resolve_base_model
from nerflow.tracking.registry import name_filter
from nerflow.tracking.store import check_store, resolve_tracking_uri


def check_run(data: DataConfig, model: ModelConfig, tracking: TrackingConfig) -> str:
    """The tracking store answers, the registered model's name can be searched for and the
    base model takes `max_length`; return the store URI."""
    uri, _ = resolve_tracking_uri(tracking.tracking_uri)
    check_store(uri)
    name_filter(tracking.registered_model)
    limit = base_model_positions(model)
    if limit is not None and data.max_length > limit:
        raise ValueError(
            f"data.max_length={data.max_length} is more than the {limit} positions of base "
            f"model {model.base_model!r}: use --max-length {limit} or less"
        )
    return uri


def base_model_positions(model: ModelConfig) -> int | None:
    """How many positions the base model has (None when its config cannot be read here)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(
            resolve_base_model(model.base_model), revision=model.revision, trust_remote_code=False
        )
    except (OSError, ValueError):
        return None  # a hub id offline, or no model at all: the tokenizing step says which
    positions = getattr(config, "max_position_embeddings", None)
    return int(positions) if isinstance(positions, int) else None
