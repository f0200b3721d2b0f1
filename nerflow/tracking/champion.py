"""The registry's champion as the promotion gate needs it: its model files and its data."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nerflow.evaluation import read_report
from nerflow.tracking.gate import SplitScores
from nerflow.tracking.registry import CHAMPION, MODEL_KEY_TAG, RegistryError
from nerflow.tracking.store import active_store
from nerflow.tracking.store import client as _client


@dataclass(frozen=True)
class Champion:
    """The version holding the champion alias, the trained model it is, and its run."""

    version: str
    model_key: str | None
    run_id: str | None


@dataclass(frozen=True)
class ChampionScores:
    """The champion's version, its report on this run's validation and test splits, and its
    F1 on each new incoming file."""

    version: str
    report_dir: Path
    val: SplitScores  # what the gate compares with
    test_f1: float  # recorded, never deciding
    staleness: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_report(
        cls, version: str, report_dir: Path, staleness: list[dict[str, Any]]
    ) -> ChampionScores:
        """The scores of an evaluation report, read once."""
        report = read_report(report_dir)
        test_f1 = float(report["splits"]["test"]["f1"])
        return cls(version, report_dir, SplitScores.from_report(report), test_f1, staleness)


def current_champion(uri: str, name: str) -> Champion | None:
    """The champion of registered model `name`, if it has one."""
    from mlflow.exceptions import MlflowException

    try:
        found = _client(uri).get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    return Champion(str(found.version), found.tags.get(MODEL_KEY_TAG), found.run_id)


def training_manifest(uri: str, champion: Champion) -> dict | None:
    """The data manifest its training run logged (None for a run that logged none)."""
    from mlflow.exceptions import MlflowException

    if champion.run_id is None:
        return None
    with tempfile.TemporaryDirectory(prefix="nerflow-manifest-") as tmp:
        try:
            path = _client(uri).download_artifacts(champion.run_id, "data/manifest.json", tmp)
        except (MlflowException, OSError):
            return None
        loaded: dict = json.loads(Path(path).read_text(encoding="utf-8"))
        return loaded


def download_model_folder(uri: str, name: str, champion: Champion, out: Path) -> None:
    """Copy the champion's transformers folder (weights, tokenizer, card) into `out`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from nerflow.tracking.model import model_files

    with tempfile.TemporaryDirectory(prefix="nerflow-champion-") as tmp, active_store(uri):
        # `models:/` downloads use the active store, whatever URI is passed (see store.py).
        try:
            root = Path(
                mlflow.artifacts.download_artifacts(
                    f"models:/{name}/{champion.version}", dst_path=tmp
                )
            )
            weights, tokenizer = model_files(root)  # the download of nothing does not fail
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"champion {name} version {champion.version}: its model files cannot be read "
                f"from the artifact store ({str(exc).splitlines()[0]}); restore them, or move "
                f"champion to a version that has them (`nerflow rollback` or `nerflow promote "
                f"VERSION --registered-model {name}`)"
            ) from exc
        shutil.copytree(weights, out, dirs_exist_ok=True)
        if tokenizer is not None:
            shutil.copytree(tokenizer, out, dirs_exist_ok=True)
