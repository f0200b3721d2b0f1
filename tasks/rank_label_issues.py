"""Step: each fold's held-out tweets judged by the model trained without them (cleanlab)."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key, fingerprint_path, produce
from nerflow.label_issues import rank_folds
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode

CODE = StepCode(
    ("nerflow.tasks.rank_label_issues", "nerflow.label_issues", "nerflow.corpus",
     "nerflow.inference", "nerflow.reporting.tables", "nerflow.config")
)  # fmt: skip


def rank_label_issues(folds: list[tuple[Path, Path]], max_length: int, work_dir: Path) -> Path:
    """Likely label errors per source under `work_dir/label_issues/<key>`, from `folds`'
    (held-out fold folder, model trained without it) pairs."""
    key = content_key(
        [[fingerprint_path(fold), fingerprint_path(model)] for fold, model in folds],
        max_length,
        CODE.version(),
    )
    return produce(work_dir / "label_issues" / key, lambda out: rank_folds(folds, max_length, out))


rank_label_issues_task = cached_task(rank_label_issues, CODE, name="rank-label-issues")
