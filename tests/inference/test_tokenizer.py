from pathlib import Path

import pytest

from nerflow.inference.tokenizer import load_tokenizer


def test_loads_a_fast_tokenizer_with_word_ids(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_dir))
    assert tokenizer.is_fast
    assert tokenizer(["Tim", "Paris"], is_split_into_words=True).word_ids()[1] == 0


def test_a_folder_without_a_tokenizer_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"model '{tmp_path}': no tokenizer found"):
        load_tokenizer(str(tmp_path), what="model")
