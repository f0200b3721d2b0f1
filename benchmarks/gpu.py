"""`make bench-gpu`: training tokens/s and model-FLOPs utilisation on a CUDA device."""

from __future__ import annotations

import time
from typing import Any, cast

#: Dense bf16/fp16 tensor-core peak (FLOP/s) by GPU name, for model-FLOPs utilisation.
GPU_PEAK_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "V100": 125e12,
    "T4": 65e12,
}


def gpu_benchmark(
    steps: int = 60, batch: int = 64, seq_len: int = 64, peak_flops: float | None = None
) -> dict[str, Any]:
    """Training tokens/s and model-FLOPs utilisation of a random-init bert-base-cased shape.

    The utilisation is against `peak_flops` when given, else the dense bf16/fp16 peak
    looked up by device name (`GPU_PEAK_FLOPS`); unknown devices get none.
    """
    import torch
    from transformers import BertConfig

    if not torch.cuda.is_available():
        raise RuntimeError("the GPU benchmark needs a CUDA device; none is available")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    config: Any = BertConfig(vocab_size=28996)  # bert-base-cased's shape
    result = training_throughput(config, "cuda", dtype, steps, batch, seq_len)
    name = torch.cuda.get_device_name(0)
    peak = peak_flops or next((v for k, v in GPU_PEAK_FLOPS.items() if k in name), None)
    flops = result["model_flops_per_token"]
    return {
        "device": name,
        **result,
        "mfu": result["tokens_per_s"] * flops / peak if peak else None,
        "peak_flops": peak,
    }


def training_throughput(
    config: Any,
    device: str,
    dtype: Any,
    steps: int,
    batch: int,
    seq_len: int,
    learning_rate: float = 5e-5,
) -> dict[str, Any]:
    """Timed training steps (autocast, fused AdamW) of a random-init BERT built from `config`."""
    import torch
    from transformers import BertForTokenClassification

    config.num_labels = 7
    model = cast(Any, BertForTokenClassification)(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, fused=True)
    ids = torch.randint(0, config.vocab_size, (batch, seq_len), device=device)
    labels = torch.randint(0, 7, (batch, seq_len), device=device)
    warm_up = min(10, steps)  # the first steps warm kernels and the allocator up
    losses = []
    for step in range(steps + warm_up):
        if step == warm_up:
            _synchronize(device)
            started = time.perf_counter()
        with torch.autocast(device, dtype=dtype):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step in (0, steps + warm_up - 1):  # a sync each: only first and last
            losses.append(float(loss.detach()))
    _synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "dtype": str(dtype),
        "steps": steps,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "tokens_per_s": steps * batch * seq_len / seconds,
        "model_flops_per_token": training_flops_per_token(model, config, seq_len),
    }


def _synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def training_flops_per_token(model: Any, config: Any, seq_len: int) -> float:
    """6 x parameters (forward + backward matmuls) + attention scores, per token."""
    params = sum(p.numel() for p in model.parameters())
    attention = 12 * config.num_hidden_layers * config.hidden_size * seq_len
    return float(6 * params + attention)
