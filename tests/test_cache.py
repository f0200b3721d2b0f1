import os
from pathlib import Path

import pytest

from nerflow.cache import atomic_dir, content_key, fingerprint_path, is_complete
from nerflow.config import DataConfig


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
    assert sorted(p.name for p in final.iterdir()) == ["CONTENTS", "FINGERPRINT", "model.bin"]


def test_fingerprint_of_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no-such"):
        fingerprint_path(tmp_path / "no-such")


def test_a_local_base_model_is_keyed_by_its_files(tmp_path: Path) -> None:
    from nerflow.config import ModelConfig

    (tmp_path / "model.safetensors").write_bytes(b"weights-1")
    model = ModelConfig(base_model=str(tmp_path))
    before = content_key(model)
    (tmp_path / "model.safetensors").write_bytes(b"weights-2")
    assert content_key(model) != before
    hub = ModelConfig(base_model="bert-base-cased", revision="abc")
    assert content_key(hub) != content_key(hub.model_copy(update={"revision": "def"}))


def test_editing_the_inference_code_reruns_evaluation_but_not_training() -> None:
    from nerflow.tasks import evaluate_model, tokenize_dataset, train_model

    def covered(step) -> set[str]:
        return {path.name for path in step.CODE.files()}

    assert "predict.py" not in covered(train_model) | covered(tokenize_dataset)
    assert {"tokenizer.py", "train_model.py", "fit.py", "labels.py"} <= covered(train_model)
    assert {"predict.py", "entity_f1.py", "labels.py"} <= covered(evaluate_model)


@pytest.mark.parametrize("harm", ["deleted", "changed"])
def test_a_finished_output_missing_or_changing_a_file_is_built_again(
    tmp_path: Path, harm: str, caplog: pytest.LogCaptureFixture
) -> None:
    from nerflow.cache import produce

    builds: list[int] = []

    def build(out: Path) -> None:
        builds.append(1)
        (out / "weights").mkdir()
        (out / "weights" / "model.safetensors").write_bytes(b"w" * 100)

    folder = produce(tmp_path / "models" / "key", build)
    weights = folder / "weights" / "model.safetensors"
    if harm == "deleted":
        weights.unlink()
    else:
        weights.write_bytes(b"x" * 100)
    assert not is_complete(folder)
    with caplog.at_level("WARNING", logger="nerflow.cache"):
        assert produce(tmp_path / "models" / "key", build) == folder
    assert len(builds) == 2 and weights.read_bytes() == b"w" * 100 and is_complete(folder)
    assert any("weights/model.safetensors" in r.message for r in caplog.records)


def test_code_version_ignores_comments_docstrings_and_field_descriptions(tmp_path: Path) -> None:
    from nerflow.step_code import source_fingerprint

    base = (
        '"""A step."""\n\nclass Config:\n    size: int = 3\n    """how many"""\n\n'
        "def run(x):\n    return x * Config.size\n"
    )
    variants = {
        "same": base,
        "comment": base.replace("return x", "# doubled\n    return x"),
        "docstring": base.replace('"""A step."""', '"""Another step."""'),
        "description": base.replace('"""how many"""', '"""how many there are"""'),
        "default": base.replace("size: int = 3", "size: int = 4"),
        "code": base.replace("x * Config.size", "x + Config.size"),
    }
    prints = {}
    for name, text in variants.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        prints[name] = source_fingerprint(path)
    assert prints["comment"] == prints["docstring"] == prints["description"] == prints["same"]
    assert prints["default"] != prints["same"] and prints["code"] != prints["same"]


def test_editing_a_config_description_keeps_the_config_modules_fingerprint(
    tmp_path: Path,
) -> None:
    import nerflow.config
    from nerflow.step_code import source_fingerprint

    source = Path(nerflow.config.__file__).read_text(encoding="utf-8")
    described = '"""peak learning rate (linear warm-up and decay)"""'
    assert described in source
    edited, retuned = tmp_path / "edited.py", tmp_path / "retuned.py"
    edited.write_text(source.replace(described, '"""the peak learning rate"""'), "utf-8")
    retuned.write_text(source.replace("default=1e-4, gt=0", "default=2e-4, gt=0"), "utf-8")
    original = source_fingerprint(Path(nerflow.config.__file__))
    assert source_fingerprint(edited) == original
    assert source_fingerprint(retuned) != original


def test_a_second_request_for_the_same_output_reuses_it(tmp_path: Path) -> None:
    from nerflow.cache import produce, watch_outputs

    calls: list[Path] = []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "data.txt").write_text("x", encoding="utf-8")

    with watch_outputs() as first:
        folder = produce(tmp_path / "step" / "key", build)
    with watch_outputs() as second:
        assert produce(tmp_path / "step" / "key", build) == folder
    assert len(calls) == 1 and is_complete(folder)
    assert [o.reused for o in first] == [False] and [o.reused for o in second] == [True]
    assert sorted(p.name for p in (tmp_path / "step").iterdir()) == ["key"]


def test_a_lock_held_by_a_killed_process_does_not_block_the_next_run(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from nerflow.cache import produce

    folder = tmp_path / "step" / "key"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom pathlib import Path\nfrom nerflow.cache import produce\n"
         "produce(Path(sys.argv[1]), lambda out: time.sleep(600))", str(folder)],
    )  # fmt: skip
    lock = tmp_path / ".locks" / "step-key.lock"
    deadline = time.monotonic() + 60
    while not (lock.is_file() and lock.read_text(encoding="utf-8")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"pid {holder.pid}" in lock.read_text(encoding="utf-8")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    produce(folder, lambda out: (out / "done").write_text("1", encoding="utf-8"))
    assert is_complete(folder) and time.monotonic() - started < 30


def test_a_run_waiting_on_a_lock_says_who_holds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading
    import time

    from nerflow.cache import produce

    folder = tmp_path / "step" / "key"
    release = threading.Event()
    holder = threading.Thread(target=produce, args=(folder, lambda out: release.wait(30)))
    holder.start()
    while not (tmp_path / ".locks" / "step-key.lock").is_file():
        time.sleep(0.05)
    time.sleep(0.2)
    threading.Timer(1.5, release.set).start()
    with caplog.at_level("WARNING", logger="nerflow.locks"):
        produce(folder, lambda out: pytest.fail("built twice"))
    holder.join()
    assert any(
        "waiting for" in r.message and f"pid {os.getpid()}" in r.message and "holds it" in r.message
        for r in caplog.records
    )


def test_a_registry_lock_held_by_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from nerflow.locks import registry_lock

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom nerflow.locks import registry_lock\n"
         "with registry_lock(sys.argv[1], 'm'):\n    print('held', flush=True)\n"
         "    time.sleep(600)", uri],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with (
        pytest.raises(TimeoutError, match=f"stayed locked .*pid {holder.pid}"),
        registry_lock(uri, "m", timeout=1),
    ):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    with registry_lock(uri, "m", timeout=5):
        assert time.monotonic() - started < 5
