"""Where to run and in what precision: CUDA with mixed precision when present, else the CPU."""

# A CPU with native bf16 (AVX512-BF16, AMX, Arm BF16) trains in mixed bf16 and predicts in
# bf16 by default: its bf16 matmuls are about twice as fast; elsewhere emulation is slower.

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}  # x86 (AVX-512, AMX), Arm (BF16)


def pick_device(requested: str) -> tuple[str, str]:
    """Device and precision: CUDA with bf16 where supported (else fp16), CPU with fp32."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device='cuda' but no CUDA device is available")
    if requested == "cpu" or not torch.cuda.is_available():
        return "cpu", "fp32"
    return "cuda", "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def training_precision(device: str, requested: str = "auto") -> str:
    """The precision to train in: `auto` is mixed bf16 on CUDA (fp16 without bf16) and on a
    CPU with native bf16, else fp32; `bf16` on a CPU is autocast mixed precision."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision {requested!r}: use one of {', '.join(PRECISIONS)}")
    if requested == "auto":
        target, precision = pick_device(device)
        if target == "cpu" and cpu_has_native_bf16():
            return "bf16"
        return precision
    if requested == "fp16" and device == "cpu":
        raise ValueError("training.precision='fp16' needs CUDA; on a CPU use bf16 or fp32")
    return requested


def inference_dtype(device: str, precision: str) -> torch.dtype:
    """The dtype to predict in; `auto`: bf16 on CUDA (else fp16) and on a native-bf16 CPU."""
    # Measured on the BTC test split, bf16 moves entity F1 by < 0.001.
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return _DTYPES[precision]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU lists a native bf16 instruction set (Linux; elsewhere: False)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            return bool(_NATIVE_BF16_FLAGS & set(value.split()))
    return False
