"""The training metadata `fit` saves beside the model, readable without importing torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

#: Written into the saved model folder: device, precision, timings, per-epoch history.
TRAINING_META = "training_meta.json"


class TrainingMeta(BaseModel):
    """How a model was trained: where, how fast, how far, and the Trainer's log history."""

    # NaN losses stay NaN in the file, as json.dumps wrote them.
    model_config = ConfigDict(ser_json_inf_nan="constants")

    key: str
    base_model: str
    base_model_identity: str
    device: str
    precision: str
    processes: int
    per_device_train_batch_size: int
    train_seconds: float
    train_started_at: float
    train_tweets: int
    train_samples_per_second: float | None
    global_steps: int
    best_checkpoint: str | None
    best_validation_f1: float | None
    resumed: bool
    log_history: list[dict[str, Any]]
    system_samples: list[dict[str, float]]
    peak_rss_mb: float
    trainable_parameters: int

    def write(self, model_dir: Path) -> None:
        """Save it beside the model in `model_dir`."""
        (model_dir / TRAINING_META).write_text(self.model_dump_json(indent=2), encoding="utf-8")


def read_training_meta(model_dir: Path) -> TrainingMeta:
    """The metadata `fit` saved beside the model in `model_dir`."""
    text = (model_dir / TRAINING_META).read_text(encoding="utf-8")
    return TrainingMeta.model_validate_json(text)
