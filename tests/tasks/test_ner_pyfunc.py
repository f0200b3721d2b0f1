import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from tasks.ner_pyfunc import _load_pyfunc, model_paths


@pytest.fixture
def saved_model(classifier_dir: Path, tmp_path: Path) -> Path:
    """The layout MLflow's transformers flavor saves: model/ and components/tokenizer/."""
    weights, tokenizer = model_paths(tmp_path)
    shutil.copytree(classifier_dir, weights)
    shutil.copytree(classifier_dir, tokenizer)
    return tmp_path


def test_model_config_sets_precision_and_batch_size(saved_model: Path) -> None:
    model = _load_pyfunc(str(saved_model), {"precision": "bf16", "batch_size": 4})
    assert model.predictor.network.dtype == torch.bfloat16
    assert model.predictor.batch_size == 4
    spans = model.predict(pd.DataFrame({"text": ["Tim Cook visits Berlin", ""]}))
    assert len(spans) == 2 and spans[1] == []
    for span in spans[0]:
        assert "Tim Cook visits Berlin"[span["start"] : span["end"]] == span["text"]


def test_non_text_input_is_refused_with_its_type(saved_model: Path) -> None:
    model = _load_pyfunc(str(saved_model), {"precision": "fp32"})
    with pytest.raises(TypeError, match="expected texts \\(str\\), got int"):
        model.predict(["ok", 3])
