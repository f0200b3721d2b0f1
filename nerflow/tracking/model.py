"""The logged model: a pyfunc that returns entity spans, carrying only `nerflow.inference`.

The model's files are the fine-tuned transformers folder (safetensors weights, tokenizer,
config and the model card as its README.md) under `data/model/`, so `transformers` loads
them as they are; the pyfunc's loader is `nerflow.inference.pyfunc`, shipped in the
model's `code/` folder. Loading needs the runtime libraries, not nerflow.
"""

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
    check_store,
    resolve_tracking_uri,
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


def model_files(root: Path) -> tuple[Path, Path | None]:
    """Weights and (when apart from them) tokenizer folders inside a downloaded MLflow model.

    Models logged before nerflow 0.2 used MLflow's transformers layout: `model/` and
    `components/tokenizer/`; they still load.
    """
    from mlflow.models import Model

    conf: dict[str, Any] = Model.load(str(root)).flavors.get("python_function", {})
    if data := conf.get("data"):
        return root / data, None
    if (root / "model").is_dir() and (root / "components" / "tokenizer").is_dir():
        return root / "model", root / "components" / "tokenizer"
    raise RegistryError(f"{root}: an MLflow model without nerflow's model files")


def fetch_model(model: str, tracking_uri: str | None = None) -> tuple[Path, Path | None]:
    """Weights and tokenizer folders of a `models:/`/`runs:/` URI or a local model folder."""
    from mlflow.exceptions import MlflowException

    local = Path(model)
    if not local.is_dir():
        if ":/" not in model:
            raise RegistryError(f"model {model!r}: no such folder, and not a models:/ URI")
        uri, _ = resolve_tracking_uri(tracking_uri)
        try:
            check_store(uri, must_exist=True)
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
    if (local / "MLmodel").is_file():
        return model_files(local)
    return local, None
