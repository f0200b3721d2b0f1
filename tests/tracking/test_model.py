"""A logged model loads where nerflow is not installed, and beside someone else's `tasks`."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from nerflow.tracking.model import fetch_model, log_model

LOAD = """
import importlib.util, json, sys
assert importlib.util.find_spec("nerflow") is None, "nerflow is importable here"
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1], model_config={"precision": "fp32"})
print(json.dumps(model.predict(["Tim Cook visits Berlin", ""])))
"""


@pytest.fixture(scope="module")
def logged_model(classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny classifier logged as nerflow logs a trained model, then downloaded."""
    import mlflow

    from nerflow.tracking.store import active_store

    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with active_store(uri), mlflow.start_run():
        model_uri = log_model(classifier_dir, "# card\n")
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(root / "dl")))
    return local


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv that sees nerflow's runtime dependencies but not nerflow itself.

    It reads the test environment's site-packages through a .pth line, which adds the
    folder without running the .pth files in it (the editable install of nerflow is one).
    """
    folder = tmp_path_factory.mktemp("bare-venv")
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "runtime-deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return python


def load_in(python: Path, model: Path, cwd: Path, extra_path: Path | None = None) -> list:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    done = subprocess.run(
        [str(python), "-c", LOAD, str(model)], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loads_in_a_virtualenv_without_nerflow(
    logged_model: Path, bare_python: Path, tmp_path: Path
) -> None:
    spans, empty = load_in(bare_python, logged_model, tmp_path)
    assert empty == []
    for span in spans:
        assert "Tim Cook visits Berlin"[span["start"] : span["end"]] == span["text"]


def test_loads_beside_an_unrelated_top_level_tasks_module(
    logged_model: Path, bare_python: Path, tmp_path: Path
) -> None:
    other = tmp_path / "celery_app"
    (other / "tasks").mkdir(parents=True)
    (other / "tasks" / "__init__.py").write_text(
        'raise ImportError("this is the application\'s own tasks package")\n', encoding="utf-8"
    )
    assert load_in(bare_python, logged_model, tmp_path, extra_path=other)[1] == []


def test_the_model_ships_only_nerflows_inference_code(logged_model: Path) -> None:
    shipped = sorted(
        p.relative_to(logged_model / "code").as_posix()
        for p in (logged_model / "code").rglob("*")
        if p.is_file()
    )
    assert "nerflow/inference/pyfunc.py" in shipped
    assert set(shipped) - {"nerflow/__init__.py"} == {
        name for name in shipped if name.startswith("nerflow/inference/")
    }
    assert not any("__pycache__" in name for name in shipped)


def test_fetch_model_finds_the_files_of_a_logged_model(logged_model: Path) -> None:
    weights = fetch_model(str(logged_model))
    assert (weights / "config.json").is_file()
    assert (weights / "README.md").read_text(encoding="utf-8") == "# card\n"
    assert not (weights / "training_meta.json").exists()


def test_fetch_model_refuses_what_is_neither_a_folder_nor_a_uri(tmp_path: Path) -> None:
    from nerflow.tracking.registry import RegistryError

    with pytest.raises(RegistryError, match="no such folder, and not a models:/ URI"):
        fetch_model(str(tmp_path / "nope"))
