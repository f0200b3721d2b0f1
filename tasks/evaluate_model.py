"""Step: score the fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

from pathlib import Path

from nerflow.corpus.manifest import eval_fingerprint, read_manifest
from nerflow.evaluation import write_report
from nerflow.orchestration.caching import cached_task
from nerflow.outputs import content_key, fingerprint_path, produce
from nerflow.step_code import StepCode

#: The code this step's output follows: its key hashes exactly these (see StepCode).
CODE = StepCode(
    (
        "nerflow.tasks.evaluate_model",
        "nerflow.evaluation",
        "nerflow.corpus",
        "nerflow.inference",
        "nerflow.metrics",
        "nerflow.config",
    )
)


def evaluate_model(model_dir: Path, dataset_dir: Path, max_length: int, work_dir: Path) -> Path:
    """The JSON report of entity-level scores under `work_dir/reports/<key>`.

    Keyed on the model and the validation and test splits alone: scoring the champion on
    them again after new training data arrived is a cache hit.
    """
    key = content_key(
        fingerprint_path(model_dir),
        eval_fingerprint(read_manifest(dataset_dir)),  # a new training file changes nothing here
        max_length,
        CODE.version(),
    )
    return produce(
        work_dir / "reports" / key,
        lambda out: write_report(model_dir, dataset_dir, max_length, out),
    )


evaluate_model_task = cached_task(evaluate_model, CODE, name="evaluate-model")
