"""Freezing: train only the last encoder layers and the head, as the seed notebook did."""

from __future__ import annotations

import re

from transformers import PreTrainedModel


def freeze_all_but_last(model: PreTrainedModel, n_layers: int) -> int:
    """Freeze the encoder except its last `n_layers` layers; the head stays trainable.

    Returns the number of trainable parameters left.
    """
    pattern = re.compile(r"\.(?:layer|layers|block)\.(\d+)\.")
    base = model.base_model_prefix
    depths = [
        int(m.group(1)) for name, _ in model.named_parameters() if (m := pattern.search(name))
    ]
    if not depths:
        raise ValueError(f"{type(model).__name__}: cannot find numbered encoder layers to freeze")
    first_trainable = max(depths) + 1 - n_layers
    for name, param in model.named_parameters():
        match = pattern.search(name)
        in_encoder = name.startswith(base + ".")
        param.requires_grad = not in_encoder or (
            match is not None and int(match.group(1)) >= first_trainable
        )
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
