"""Step: the champion scored on this run's splits (the gate's fair baseline) and on each
incoming file it was not trained on (staleness)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from nerflow.tasks.evaluate_model import evaluate_model

from nerflow.cache import content_key, fingerprint_path, is_complete, produce
from nerflow.config import TrackingConfig
from nerflow.corpus.manifest import read_manifest
from nerflow.evaluation import read_file_report, write_file_report
from nerflow.orchestration.caching import cached_task
from nerflow.step_code import StepCode
from nerflow.tracking.champion import (
    Champion,
    ChampionScores,
    current_champion,
    download_model_folder,
    training_manifest,
)

logger = logging.getLogger(__name__)

CODE = StepCode(
    ("nerflow.tasks.score_champion", "nerflow.tasks.evaluate_model", "nerflow.evaluation",
     "nerflow.corpus", "nerflow.inference", "nerflow.metrics", "nerflow.tracking", "nerflow.config")
)  # fmt: skip


def score_champion(
    tracking: TrackingConfig, dataset_dir: Path, max_length: int, work_dir: Path
) -> ChampionScores | None:
    """Score the registry's champion on this dataset (None when there is no champion yet)."""
    uri = tracking.resolved_uri()
    champion = current_champion(uri, tracking.registered_model)
    if champion is None:
        return None
    model_dir = _model_folder(uri, tracking.registered_model, champion, work_dir)
    report_dir = evaluate_model(model_dir, dataset_dir, max_length, work_dir)
    trained = training_manifest(uri, champion)
    known = trained.train_files() if trained else set()
    staleness = []
    for entry in read_manifest(dataset_dir).sources:
        if entry.origin != "incoming" or entry.content_sha256 in known:
            continue
        key = content_key(
            fingerprint_path(model_dir), entry.content_sha256, max_length,
            CODE.version(),
        )  # fmt: skip
        scores = read_file_report(
            produce(
                work_dir / "reports" / key,
                _file_scorer(model_dir, Path(str(entry.path)), max_length),
            )
        )
        staleness.append(
            {"file": entry.name, "tweets": entry.tweets}
            | scores.model_dump(include={"precision", "recall", "f1"})
        )
    scored = ChampionScores.from_report(champion.version, report_dir, staleness)
    logger.info(
        "champion v%s on this run's splits: validation F1 %.3f, test F1 %.3f",
        champion.version, scored.val.f1, scored.test_f1,
    )  # fmt: skip
    for stale in staleness:
        logger.info(
            "staleness: champion v%s scores F1 %.3f on new file %s (%d tweets)",
            champion.version, stale["f1"], stale["file"], stale["tweets"],
        )  # fmt: skip
    return scored


def _file_scorer(model_dir: Path, path: Path, max_length: int) -> Callable[[Path], None]:
    return lambda out: write_file_report(model_dir, path, max_length, out)


def _model_folder(uri: str, name: str, champion: Champion, work_dir: Path) -> Path:
    """The champion's model files: the training output here, or a copy from the registry."""
    if champion.model_key:
        trained = work_dir / "models" / champion.model_key
        if is_complete(trained):
            return trained
    key = content_key(name, champion.model_key or f"version {champion.version}", uri)
    return produce(
        work_dir / "registered" / key,
        lambda out: download_model_folder(uri, name, champion, out),
    )


score_champion_task = cached_task(score_champion, CODE, name="score-champion")
