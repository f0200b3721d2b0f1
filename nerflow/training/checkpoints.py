"""Checkpoints: which one a resumed training starts from."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)


def last_complete_checkpoint(folder: Path, remove_partial: bool = True) -> Path | None:
    """The newest checkpoint that was completely written (its trainer state comes last).

    A process killed while saving leaves a checkpoint folder without `trainer_state.json`;
    resuming from it would fail, so it is skipped (and removed).
    """
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for checkpoint in found:
        if (checkpoint / "trainer_state.json").is_file():
            return checkpoint
        if remove_partial:
            logger.warning("removing %s: written only in part when training stopped", checkpoint)
            shutil.rmtree(checkpoint, ignore_errors=True)
    return None
