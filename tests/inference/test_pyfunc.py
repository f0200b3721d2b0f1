from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException

from nerflow.inference.pyfunc import _load_pyfunc


def test_model_config_sets_precision_and_batch_size(classifier_dir: Path) -> None:
    model = _load_pyfunc(str(classifier_dir), {"precision": "bf16", "batch_size": 4})
    assert model.predictor.network.dtype == torch.bfloat16
    assert model.predictor.batch_size == 4
    spans = model.predict(pd.DataFrame({"text": ["Tim Cook visits Berlin", ""]}))
    assert len(spans) == 2 and spans[1] == []
    for span in spans[0]:
        assert "Tim Cook visits Berlin"[span["start"] : span["end"]] == span["text"]


def test_non_text_input_is_refused_naming_each_bad_item(classifier_dir: Path) -> None:
    model = _load_pyfunc(str(classifier_dir), {"precision": "fp32"})
    with pytest.raises(MlflowException, match=r"item 1 is int '3', item 2 is null$") as refused:
        model.predict(["ok", 3, None])
    assert refused.value.get_http_status_code() == 400  # the scoring server's answer
