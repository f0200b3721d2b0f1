from pathlib import Path

import pytest
from transformers import AutoModelForTokenClassification

from tasks.config import DataConfig, ModelConfig, TrainingConfig
from tasks.download_dataset import download_dataset
from tasks.read_conll import LABELS
from tasks.select_device import pick_device
from tasks.tokenize_dataset import tokenize_dataset
from tasks.train_model import freeze_all_but_last, read_training_meta, train_model
from tests.conftest import CONLL_DIR


@pytest.fixture
def tokenized(tmp_path: Path, tiny_model_dir: Path) -> Path:
    data = DataConfig(source="conll", local_dir=CONLL_DIR)
    dataset_dir = download_dataset(data, tmp_path)
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
    assert meta["device"] == "cpu" and meta["precision"] == "fp32"
    assert meta["global_steps"] == 3
    assert any("eval_f1" in entry for entry in meta["log_history"])
    assert 0.0 <= meta["best_validation_f1"] <= 1.0
    assert not (tmp_path / "checkpoints" / out.name).exists()  # checkpoints cleaned up
    # same inputs: the finished folder is returned, not retrained
    assert train_model(tokenized, model, training, tmp_path) == out
    assert read_training_meta(out)["train_seconds"] == meta["train_seconds"]


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
