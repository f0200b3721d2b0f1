from pathlib import Path

import pytest
from nerflow.tasks.gather_corpus import gather_corpus
from nerflow.tasks.tokenize_dataset import tokenize_dataset
from nerflow.tasks.train_model import train_model
from transformers import AutoModelForTokenClassification

from nerflow.cache import is_complete
from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.corpus.labels import LABELS
from nerflow.inference.device import cpu_has_native_bf16, pick_device
from nerflow.training.fit import freeze_all_but_last
from nerflow.training.meta import read_training_meta
from tests.conftest import CONLL_DIR


@pytest.fixture
def tokenized(tmp_path: Path, tiny_model_dir: Path) -> Path:
    data = DataConfig(source="conll", local_dir=CONLL_DIR)
    dataset_dir = gather_corpus(data, tmp_path)
    return tokenize_dataset(
        dataset_dir, ModelConfig(base_model=str(tiny_model_dir)), data, tmp_path
    )


def test_trains_and_saves_a_model_with_its_label_names(
    tmp_path: Path, tiny_model_dir: Path, tokenized: Path
) -> None:
    model = ModelConfig(base_model=str(tiny_model_dir))
    training = TrainingConfig(max_steps=3, batch_size=4, learning_rate=1e-3)
    out = train_model(tokenized, model, training, tmp_path)
    loaded = AutoModelForTokenClassification.from_pretrained(str(out))
    assert [loaded.config.id2label[i] for i in range(len(LABELS))] == list(LABELS)
    meta = read_training_meta(out)
    # auto: mixed bf16 where this CPU computes bf16 natively, fp32 elsewhere.
    expected = "bf16" if cpu_has_native_bf16() else "fp32"
    assert meta.device == "cpu" and meta.precision == expected
    assert meta.global_steps == 3
    assert any("eval_f1" in entry for entry in meta.log_history)
    assert 0.0 <= meta.best_validation_f1 <= 1.0
    assert not (tmp_path / "checkpoints" / out.name).exists()  # checkpoints cleaned up
    # same inputs: the finished folder is returned, not retrained
    assert train_model(tokenized, model, training, tmp_path) == out
    assert read_training_meta(out).train_seconds == meta.train_seconds


def test_freezing_keeps_only_the_last_layers_and_the_head_trainable(tiny_model_dir: Path) -> None:
    network = AutoModelForTokenClassification.from_pretrained(str(tiny_model_dir), num_labels=7)
    freeze_all_but_last(network, 1)
    trainable = {name for name, p in network.named_parameters() if p.requires_grad}
    assert any(".layer.1." in name for name in trainable)
    assert not any(".layer.0." in name or "embeddings" in name for name in trainable)
    assert {"classifier.weight", "classifier.bias"} <= trainable


def test_freezing_a_model_without_numbered_layers_is_refused() -> None:
    import torch

    class Flat(torch.nn.Module):
        base_model_prefix = "bert"

        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

    with pytest.raises(ValueError, match="cannot find numbered encoder layers"):
        freeze_all_but_last(Flat(), 1)  # type: ignore[arg-type]


def test_cuda_requested_without_a_gpu_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        pick_device("cuda")
    assert pick_device("auto") == ("cpu", "fp32")


def test_invalid_training_settings_are_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="learning_rate"):
        TrainingConfig(learning_rate=-1e-5)
    with pytest.raises(ValidationError, match="epochs"):
        TrainingConfig(epochs=0)


def test_a_killed_training_resumes_from_its_last_checkpoint(
    tmp_path: Path, tiny_model_dir: Path, tokenized: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    model = ModelConfig(base_model=str(tiny_model_dir))
    training = TrainingConfig(epochs=40, batch_size=4, learning_rate=1e-3)
    model_json, training_json = model.model_dump_json(), training.model_dump_json()
    script = (
        "from pathlib import Path;"
        "from nerflow.config import ModelConfig as M, TrainingConfig as T;"
        "from nerflow.tasks.train_model import train_model;"
        f"train_model(Path({str(tokenized)!r}), M.model_validate_json({model_json!r}),"
        f" T.model_validate_json({training_json!r}), Path({str(tmp_path)!r}))"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    checkpoints = tmp_path / "checkpoints"
    deadline = time.monotonic() + 180
    reached: list[int] = []
    while time.monotonic() < deadline and process.poll() is None:
        reached = [int(p.name.split("-")[1]) for p in checkpoints.glob("*/checkpoint-*")]
        if reached and max(reached) >= 9:  # three epochs of three steps saved
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert reached and max(reached) >= 9, "training never wrote its third checkpoint"
    # Only the killed run's hidden scratch folder: nothing that looks like a model.
    models = tmp_path / "models"
    assert not models.exists() or all(p.name.startswith(".tmp-") for p in models.iterdir())

    out = train_model(tokenized, model, training, tmp_path)
    meta = read_training_meta(out)
    assert meta.resumed is True
    assert meta.global_steps == 120  # 40 epochs x 3 steps: finished, not restarted
    first_logged = min(e["step"] for e in meta.log_history if "eval_f1" in e)
    assert first_logged == 3  # the history before the kill came back with the checkpoint


def test_token_budget_batches_cover_every_tweet_within_the_budget() -> None:
    from nerflow.training.batching import TokenBudgetSampler, token_budget_batches

    lengths = [5, 40, 12, 12, 33, 7, 64, 20, 9, 11]
    batches = token_budget_batches(lengths, budget=64)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert max(lengths[i] for i in batch) * len(batch) <= 64
    assert len(batches[0]) > len(batches[-1])  # short tweets share big batches
    sampler = TokenBudgetSampler(lengths, 64, seed=1)
    first, second = list(sampler), list(sampler)
    assert sorted(map(tuple, first)) == sorted(map(tuple, second)) and len(sampler) == len(batches)
    with pytest.raises(ValueError, match="tweet of 64 sub-words exceeds the budget 32"):
        TokenBudgetSampler(lengths, 32, seed=1)


def test_training_with_a_token_budget(
    tmp_path: Path, tiny_model_dir: Path, tokenized: Path
) -> None:
    from datasets import load_from_disk

    from nerflow.training.batching import token_budget_batches

    model = ModelConfig(base_model=str(tiny_model_dir))
    training = TrainingConfig(epochs=2, max_tokens_per_batch=64, learning_rate=1e-3)
    meta = read_training_meta(train_model(tokenized, model, training, tmp_path))
    lengths = load_from_disk(str(tokenized / "dataset"))["train"]["length"]
    assert meta.global_steps == 2 * len(token_budget_batches(lengths, 64))


def test_training_in_two_processes_saves_one_model_from_rank_zero(
    tmp_path: Path, tiny_model_dir: Path, tokenized: Path
) -> None:
    model = ModelConfig(base_model=str(tiny_model_dir))
    training = TrainingConfig(
        max_steps=4, batch_size=4, learning_rate=1e-3, device="cpu", processes=2
    )
    out = train_model(tokenized, model, training, tmp_path)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [out.name]  # no .tmp-* left
    assert is_complete(out)
    meta = read_training_meta(out)
    assert meta.processes == 2 and meta.per_device_train_batch_size == 2
    assert meta.global_steps == 4
    assert 0.0 <= meta.best_validation_f1 <= 1.0
    assert not (tmp_path / "checkpoints" / out.name).exists()
    assert AutoModelForTokenClassification.from_pretrained(str(out)).num_labels == len(LABELS)
    # the key (and so the cache hit) is the parent's, not one the ranks computed
    assert train_model(tokenized, model, training, tmp_path) == out


def test_a_training_in_two_processes_listens_on_loopback_only(
    tmp_path: Path, tiny_model_dir: Path, tokenized: Path
) -> None:
    import threading

    import psutil

    listening: set[str] = set()
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.05):
            for process in psutil.Process().children(recursive=True):
                try:
                    sockets = process.net_connections(kind="tcp")
                except psutil.Error:
                    continue  # exited meanwhile
                listening.update(s.laddr.ip for s in sockets if s.status == psutil.CONN_LISTEN)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        training = TrainingConfig(max_steps=4, batch_size=4, device="cpu", processes=2)
        train_model(tokenized, ModelConfig(base_model=str(tiny_model_dir)), training, tmp_path)
    finally:
        finished.set()
        watcher.join()
    assert listening  # the ranks' own (gloo) listeners: the watch saw the run
    assert listening <= {"127.0.0.1", "::1"}


def test_a_failing_distributed_run_raises_with_the_ranks_error(
    tmp_path: Path, tokenized: Path
) -> None:
    import shlex
    import subprocess

    model = ModelConfig(base_model=str(tmp_path / "no-such-model"))
    training = TrainingConfig(max_steps=1, device="cpu", processes=2)
    with pytest.raises(RuntimeError, match=r"(?s)distributed training failed.*cannot load") as err:
        train_model(tokenized, model, training, tmp_path)
    assert not any((tmp_path / "models").iterdir())  # the scratch folder went with the failure
    spec = Path(str(err.value).split("spec ", 1)[1].split(",", 1)[0])
    assert spec.is_file()  # kept for a rerun by hand
    rerun = str(err.value).split("rerun with: ", 1)[1].split("); last stderr", 1)[0]
    again = subprocess.run(shlex.split(rerun), capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "cannot load" in again.stderr
    spec.unlink()


def test_a_checkpoint_written_in_part_is_skipped_and_removed(tmp_path: Path) -> None:
    from nerflow.training.fit import last_complete_checkpoint

    for step, complete in ((3, True), (6, True), (9, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}", encoding="utf-8")
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert not (tmp_path / "checkpoint-9").exists()
    assert last_complete_checkpoint(tmp_path / "none") is None


def test_a_run_counted_in_steps_checkpoints_every_few_hundred_steps(tmp_path: Path) -> None:
    from nerflow.training.fit import CHECKPOINT_STEPS, training_arguments

    long = training_arguments(TrainingConfig(max_steps=1000), "cpu", "fp32", tmp_path)
    assert long.save_steps == long.eval_steps == CHECKPOINT_STEPS < 1000
    short = training_arguments(TrainingConfig(max_steps=4), "cpu", "fp32", tmp_path)
    assert short.save_steps == short.eval_steps == 4


def test_training_precision_per_device() -> None:
    from nerflow.inference.device import training_precision

    assert training_precision("cpu", "bf16") == "bf16"
    assert training_precision("cpu", "fp32") == "fp32"
    with pytest.raises(ValueError, match="fp16' needs CUDA"):
        training_precision("cpu", "fp16")
    with pytest.raises(ValueError, match="precision 'int8'"):
        training_precision("cpu", "int8")


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_trains_in_bf16_only_on_a_cpu_that_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
) -> None:
    from nerflow.inference import device

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    assert device.training_precision("cpu", "auto") == expected
    assert device.training_precision("cpu", "fp32") == "fp32"  # asked for: as asked


def test_a_training_that_ran_out_of_memory_is_not_retried() -> None:
    from nerflow.tasks.train_model import _retry_unless_stopped
    from prefect.states import Failed

    def failed(exc: BaseException) -> object:
        return Failed(data=exc, message=str(exc))

    assert _retry_unless_stopped(None, None, failed(RuntimeError("rank 1 died")))
    assert not _retry_unless_stopped(None, None, failed(MemoryError()))
    assert not _retry_unless_stopped(None, None, failed(RuntimeError("can't start new thread")))
