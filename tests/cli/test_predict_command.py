"""`nerflow predict` refuses a model that was never trained for tagging."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nerflow.cli import app


def test_a_base_model_folder_is_refused_in_one_line(tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["predict", "Tim Cook visits Paris", "--model", str(tiny_model_dir)]
    )
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith(
        f"error: model {str(tiny_model_dir)!r} has no trained token-classification head"
    )


def test_a_head_trained_for_other_labels_is_refused_in_one_line(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    # A whole head, but for two labels that are no entity tags (a sentiment model, say).
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    head = AutoModelForTokenClassification.from_pretrained(str(tiny_model_dir), id2label=labels)
    head.save_pretrained(str(tmp_path))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(tmp_path))
    result = CliRunner().invoke(app, ["predict", "Tim Cook visits Paris", "--model", str(tmp_path)])
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert "labels NEGATIVE, POSITIVE are not entity tags" in line
