"""Where to run: CUDA with mixed precision when present, else the CPU in fp32."""

from __future__ import annotations

import torch


def pick_device(requested: str) -> tuple[str, str]:
    """Device and precision: CUDA with bf16 where supported (else fp16), CPU with fp32."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device='cuda' but no CUDA device is available")
    if requested == "cpu" or not torch.cuda.is_available():
        return "cpu", "fp32"
    return "cuda", "bf16" if torch.cuda.is_bf16_supported() else "fp16"
