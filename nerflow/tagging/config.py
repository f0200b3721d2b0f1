"""How a batch of raw tweets is tagged: the `tagging` parameter of the tag-tweets flow."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nerflow.config import DataConfig, _Config
from nerflow.tracking.names import CHAMPION


class TaggingConfig(_Config):
    """Which registry alias tags, and in what chunks, batches and precision (`nerflow tag`)."""

    alias: str = CHAMPION
    """registry alias of tracking.registered_model to tag with; resolved to one version when
    the run starts, so every chunk is tagged by the same model"""
    chunk_size: int = Field(default=1000, ge=1)
    """tweets per chunk, the unit of resuming: a rerun reuses every chunk already tagged"""
    batch_size: int = Field(default=32, ge=1)
    """tweets per forward pass (batched in order of length within a chunk)"""
    max_length: int = Field(default=DataConfig.model_fields["max_length"].default, ge=8, le=4096)
    """sub-words per tweet; words past it get no entity"""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto (bf16 where the hardware computes it natively, else fp32, as `nerflow predict`)
    | fp32 | bf16 | fp16"""
