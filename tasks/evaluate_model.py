"""Step: score the fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key, fingerprint_path, produce
from nerflow.corpus.manifest import read_manifest
from nerflow.evaluation import write_report
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode

CODE = StepCode(
    ("nerflow.tasks.evaluate_model", "nerflow.evaluation", "nerflow.corpus", "nerflow.inference",
     "nerflow.metrics", "nerflow.config")
)  # fmt: skip


def evaluate_model(model_dir: Path, dataset_dir: Path, max_length: int, work_dir: Path) -> Path:
    """The JSON report of entity-level scores under `work_dir/reports/<key>`, keyed on the
    model and the validation and test splits alone (new training data is a cache hit here)."""
    key = content_key(
        fingerprint_path(model_dir),
        read_manifest(dataset_dir).eval_fingerprint(),  # a new training file changes nothing here
        max_length,
        CODE.version(),
    )
    return produce(
        work_dir / "reports" / key,
        lambda out: write_report(model_dir, dataset_dir, max_length, out),
    )


evaluate_model_task = cached_task(evaluate_model, CODE, name="evaluate-model")
