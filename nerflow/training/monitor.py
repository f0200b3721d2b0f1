"""What the machine does while the model trains: CPU, memory and GPU memory samples."""

from __future__ import annotations

import logging
import time
from typing import Any

import psutil
import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)


class SystemSampler(TrainerCallback):
    """Samples CPU, resident and GPU memory every few steps, and stamps each log entry and
    sample with its wall-clock time (MLflow's charts then show when, not when logged)."""

    def __init__(self, every_steps: int = 20) -> None:
        self.every_steps = every_steps
        self.samples: list[dict[str, float]] = []
        self._process = psutil.Process()
        self._process.cpu_percent()  # the first reading only starts the clock

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """A first sample as training starts (step 0), so every chart starts there."""
        self._sample(state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Record one sample at every `every_steps`-th step."""
        if state.global_step % self.every_steps == 0:
            self._sample(state.global_step)

    def _sample(self, step: int) -> None:
        sample = {
            "step": float(step),
            "time": time.time(),
            "cpu_percent": self._process.cpu_percent(),
            "rss_mb": self._process.memory_info().rss / 2**20,
        }
        if torch.cuda.is_available():
            sample["gpu_memory_mb"] = torch.cuda.memory_allocated() / 2**20
        self.samples.append(sample)

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stamp the Trainer's new log entry; log each evaluation's scores (Prefect shows them)."""
        if not state.log_history:
            return
        entry = state.log_history[-1]
        entry.setdefault("time", time.time())
        if "eval_f1" in entry and state.is_world_process_zero:
            types = ", ".join(
                f"{kind} {entry.get(f'eval_{kind}_f1', 0.0):.3f}" for kind in ("PER", "ORG", "LOC")
            )
            logger.info(
                "epoch %.2f (step %d): validation entity F1 %.3f (%s), loss %.4f",
                entry.get("epoch", 0.0), state.global_step, entry["eval_f1"], types,
                entry.get("eval_loss", float("nan")),
            )  # fmt: skip
