from pathlib import Path

import pytest

from tasks.caching import atomic_dir, content_key, fingerprint_path, is_complete
from tasks.config import DataConfig


def test_fingerprint_follows_content_not_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "train.conll").write_text("Paris\tB-LOC\n", encoding="utf-8")
    assert fingerprint_path(a) == fingerprint_path(b)
    (b / "train.conll").write_text("Paris\tO\n", encoding="utf-8")
    assert fingerprint_path(a) != fingerprint_path(b)


def test_config_keys_see_the_content_of_the_folders_they_name(tmp_path: Path) -> None:
    (tmp_path / "train.conll").write_text("Paris\tB-LOC\n", encoding="utf-8")
    data = DataConfig(source="conll", local_dir=tmp_path)
    before = content_key(data)
    (tmp_path / "train.conll").write_text("Paris\tB-LOC\n\nRome\tB-LOC\n", encoding="utf-8")
    assert content_key(data) != before
    assert content_key(data) == content_key(DataConfig(source="conll", local_dir=tmp_path))


def test_a_failed_write_leaves_no_output_and_no_scratch(tmp_path: Path) -> None:
    final = tmp_path / "out" / "key"
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(final, "key") as scratch:
        (scratch / "half.bin").write_bytes(b"x")
        raise RuntimeError("boom")
    assert not final.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_a_finished_write_is_complete_and_fingerprinted(tmp_path: Path) -> None:
    final = tmp_path / "out" / "key"
    with atomic_dir(final, "abc123") as scratch:
        (scratch / "model.bin").write_bytes(b"x")
    assert is_complete(final)
    assert fingerprint_path(final) == "abc123"
    assert sorted(p.name for p in final.iterdir()) == ["FINGERPRINT", "model.bin"]


def test_fingerprint_of_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no-such"):
        fingerprint_path(tmp_path / "no-such")


def test_a_local_base_model_is_keyed_by_its_files(tmp_path: Path) -> None:
    from tasks.config import ModelConfig

    (tmp_path / "model.safetensors").write_bytes(b"weights-1")
    model = ModelConfig(base_model=str(tmp_path))
    before = content_key(model)
    (tmp_path / "model.safetensors").write_bytes(b"weights-2")
    assert content_key(model) != before
    hub = ModelConfig(base_model="bert-base-cased", revision="abc")
    assert content_key(hub) != content_key(hub.model_copy(update={"revision": "def"}))


def test_code_version_follows_the_defining_module(tmp_path: Path) -> None:
    import importlib.util

    from tasks.caching import code_version

    def load(text: str):
        (tmp_path / "step.py").write_text(text, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("step", tmp_path / "step.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.run

    before = code_version(load("def run():\n    return 1\n"))
    assert code_version(load("def run():\n    return 1\n")) == before
    assert code_version(load("HELPER = 2\n\ndef run():\n    return 1\n")) != before


def test_code_version_covers_the_project_modules_a_step_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from tasks.caching import code_version

    package = tmp_path / "steppkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "helper.py").write_text("def score():\n    return 1\n", encoding="utf-8")
    (package / "unrelated.py").write_text("X = 1\n", encoding="utf-8")
    (package / "step.py").write_text(
        "from steppkg.helper import score\n\ndef run():\n    return score()\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = importlib.import_module("steppkg.step").run
    importlib.import_module("steppkg.unrelated")
    before = code_version(run)
    (package / "unrelated.py").write_text("X = 2\n", encoding="utf-8")
    assert code_version(run) == before
    (package / "helper.py").write_text("def score():\n    return 2\n", encoding="utf-8")
    assert code_version(run) != before
    for name in ("steppkg", "steppkg.step", "steppkg.helper", "steppkg.unrelated"):
        monkeypatch.delitem(__import__("sys").modules, name, raising=False)


def test_editing_the_inference_code_reruns_evaluation_but_not_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tasks.caching
    from tasks.evaluate_model import evaluate_model
    from tasks.tokenize_dataset import tokenize_dataset
    from tasks.train_model import train_model

    def covered(fn) -> set[str]:
        seen: list[str] = []
        monkeypatch.setattr(tasks.caching, "sha256_file", lambda p: seen.append(p.name) or "x")
        tasks.caching.code_version(fn)
        return set(seen)

    assert "predict_entities.py" not in covered(train_model) | covered(tokenize_dataset)
    assert {"load_tokenizer.py", "train_model.py"} <= covered(train_model)
    assert "predict_entities.py" in covered(evaluate_model)
