"""What the machine does while the model trains: CPU, memory and GPU memory samples."""

from __future__ import annotations

import time
from typing import Any

import psutil
import torch
from transformers import TrainerCallback


class SystemSampler(TrainerCallback):
    """Samples CPU use, resident memory and GPU memory every few steps while training, and
    stamps each log entry and sample with the wall-clock time it was taken (so MLflow's
    charts get real times, not the moment the run was logged)."""

    def __init__(self, every_steps: int = 20) -> None:
        self.every_steps = every_steps
        self.samples: list[dict[str, float]] = []
        self._process = psutil.Process()
        self._process.cpu_percent()  # the first reading only starts the clock

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Record one sample at every `every_steps`-th step."""
        if state.global_step % self.every_steps:
            return
        sample = {
            "step": float(state.global_step),
            "time": time.time(),
            "cpu_percent": self._process.cpu_percent(),
            "rss_mb": self._process.memory_info().rss / 2**20,
        }
        if torch.cuda.is_available():
            sample["gpu_memory_mb"] = torch.cuda.memory_allocated() / 2**20
        self.samples.append(sample)

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stamp the entry the Trainer just added to its log history."""
        if state.log_history:
            state.log_history[-1].setdefault("time", time.time())
