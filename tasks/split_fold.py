"""Step: one fold of the training tweets held out, the rest a dataset to train on."""

from __future__ import annotations

import logging
from pathlib import Path

from nerflow.cache import content_key, fingerprint_path, produce
from nerflow.corpus.folds import write_fold
from nerflow.corpus.manifest import read_manifest
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode

CODE = StepCode(
    ("nerflow.tasks.split_fold", "nerflow.corpus", "nerflow.inference.mentions", "nerflow.config")
)

logger = logging.getLogger(__name__)


def split_fold(dataset_dir: Path, fold: int, folds: int, seed: int, work_dir: Path) -> Path:
    """Fold `fold` of `folds` (seeded, by tweet, within each source) held out under
    `work_dir/folds/<key>`, beside a dataset of the other folds that the training steps take."""
    key = content_key(fingerprint_path(dataset_dir), fold, folds, seed, CODE.version())
    folder = produce(
        work_dir / "folds" / key, lambda out: write_fold(dataset_dir, fold, folds, seed, out)
    )
    manifest = read_manifest(folder)
    logger.info("fold %d/%d held out: its model trains on the other %d tweets",
                fold + 1, folds, manifest.splits["train"])  # fmt: skip
    return folder


split_fold_task = cached_task(split_fold, CODE, name="split-fold")
