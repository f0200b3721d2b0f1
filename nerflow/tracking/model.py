"""The logged model: a pyfunc that returns entity spans, carrying only `nerflow.inference`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import nerflow.inference
from nerflow.tracking.registry import RegistryError
from nerflow.tracking.store import (
    TrackingStoreError,
    active_store,
    existing_store,
)

#: The seed article's example sentence: the logged model's input example.
SEED_EXAMPLE = "Zachary Raicik works for Corvus and lives in San Diego"
#: What the shipped `nerflow/__init__.py` says, so a reader of `code/` knows what it is.
_SHIPPED_INIT = '"""nerflow\'s inference code, shipped with a logged model."""\n'
#: What a model folder saved by training holds besides its own files.
_NOT_SHIPPED = ("training_meta.json", "FINGERPRINT", "SECONDS", "live_run.json")


def log_model(model_dir: Path, model_card: str) -> str:
    """Log the model (spans pyfunc, card) in the active run; return its URI (not registered)."""
    import mlflow

    from nerflow.inference.pyfunc import signature

    with tempfile.TemporaryDirectory(prefix="nerflow-model-") as tmp:
        files = Path(tmp) / "model"
        shutil.copytree(model_dir, files, ignore=shutil.ignore_patterns(*_NOT_SHIPPED))
        (files / "README.md").write_text(model_card, encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="model",
            loader_module="nerflow.inference.pyfunc",
            data_path=str(files),
            code_paths=[str(_inference_code(Path(tmp) / "code"))],
            signature=signature(),
            input_example=[SEED_EXAMPLE],
            pip_requirements=_pinned_requirements(),
        )
    return str(info.model_uri)


def _inference_code(root: Path) -> Path:
    """`root/nerflow/`: a package holding `nerflow.inference` and nothing else of nerflow."""
    package = root / "nerflow"
    source = Path(next(iter(nerflow.inference.__path__)))
    shutil.copytree(
        source, package / "inference", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    (package / "__init__.py").write_text(_SHIPPED_INIT, encoding="utf-8")
    return package


def _pinned_requirements() -> list[str]:
    # Explicit pins: MLflow's own inference imports torchvision (absent here, and not
    # needed for text) and loads the model a second time in a subprocess to guess them.
    from importlib.metadata import version

    pins = [f"{name}=={version(name).split('+')[0]}" for name in ("transformers", "torch")]
    return [*pins, "numpy", "safetensors", "tokenizers"]


def model_files(root: Path) -> Path:
    """The model folder (weights, tokenizer, card) inside a downloaded MLflow model."""
    from mlflow.models import Model

    conf: dict[str, Any] = Model.load(str(root)).flavors.get("python_function", {})
    if data := conf.get("data"):
        return root / data
    raise RegistryError(f"{root}: an MLflow model without nerflow's model files")


def fetch_model(model: str, tracking_uri: str | None = None) -> Path:
    """The model folder (weights, tokenizer) of a `models:/`/`runs:/` URI or a local folder."""
    from mlflow.exceptions import MlflowException

    local = Path(model)
    if not local.is_dir():
        if ":/" not in model:
            raise RegistryError(f"model {model!r}: no such folder, and not a models:/ URI")
        try:
            uri = existing_store(tracking_uri)
        except TrackingStoreError as exc:
            raise RegistryError(str(exc)) from exc
        import mlflow

        # models:/ URIs resolve through the registry URI, and `models:/m-...` downloads
        # ignore a tracking_uri argument: the store is made the active one for the call.
        with active_store(uri):
            try:
                local = Path(mlflow.artifacts.download_artifacts(model))
            except (MlflowException, OSError) as exc:
                raise RegistryError(f"model {model!r} not found at {uri}: {exc}") from exc
    return model_files(local) if (local / "MLmodel").is_file() else local
