"""The registry's champion as the promotion gate needs it: its model files and its data."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nerflow.corpus.manifest import Manifest, read_manifest
from nerflow.evaluation import read_report
from nerflow.tracking import names
from nerflow.tracking.gate import SplitScores
from nerflow.tracking.registry import RegistryError, alias_version
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
    """The champion's version, its scores on this run's splits, its F1 on new incoming files."""

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
        val, test_f1 = SplitScores.from_report(report), report.splits["test"].f1
        return cls(version, report_dir, val, test_f1, staleness)


def current_champion(uri: str, name: str) -> Champion | None:
    """The champion of registered model `name`, if it has one."""
    if (found := alias_version(_client(uri), name, names.CHAMPION)) is None:
        return None
    return Champion(str(found.version), found.tags.get(names.MODEL_KEY_TAG), found.run_id)


def training_manifest(uri: str, champion: Champion) -> Manifest | None:
    """The data manifest its training run logged (None for a run that logged none)."""
    from mlflow.exceptions import MlflowException

    if champion.run_id is None:
        return None
    with tempfile.TemporaryDirectory(prefix="nerflow-manifest-") as tmp:
        try:
            path = _client(uri).download_artifacts(champion.run_id, names.MANIFEST_ARTIFACT, tmp)
        except (MlflowException, OSError):
            return None
        return read_manifest(Path(path).parent)


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
            files = model_files(root)  # the download of nothing does not fail
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"champion {name} version {champion.version}: its model files cannot be read "
                f"from the artifact store ({str(exc).splitlines()[0]}); restore them, or move "
                f"champion to a version that has them (`nerflow rollback` or `nerflow promote "
                f"VERSION --registered-model {name}`)"
            ) from exc
        shutil.copytree(files, out, dirs_exist_ok=True)
