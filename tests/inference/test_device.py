from pathlib import Path

import pytest
import torch

import nerflow.inference.device
from nerflow.inference.device import cpu_has_native_bf16, inference_dtype
from nerflow.inference.predict import EntityPredictor, predict_word_tags
from nerflow.inference.text import pretokenize

X86_WITH_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
X86_WITHOUT = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"
ARM_WITH_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(X86_WITH_BF16, True), (X86_WITHOUT, False), (ARM_WITH_BF16, True)]
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, cpuinfo: str, native: bool) -> None:
    (tmp_path / "cpuinfo").write_text(cpuinfo, encoding="utf-8")
    assert cpu_has_native_bf16(tmp_path / "cpuinfo") is native


def test_no_cpuinfo_means_no_native_bf16(tmp_path: Path) -> None:
    assert cpu_has_native_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize(("native", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_predicts_in_bf16_only_on_a_cpu_that_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch, native: bool, dtype: torch.dtype
) -> None:
    monkeypatch.setattr(nerflow.inference.device, "cpu_has_native_bf16", lambda: native)
    assert inference_dtype("cpu", "auto") == dtype
    assert inference_dtype("cpu", "fp32") == torch.float32  # asked for: always honoured
    assert inference_dtype("cpu", "bf16") == torch.bfloat16


def test_an_unknown_precision_names_the_choices() -> None:
    with pytest.raises(ValueError, match="precision 'int4': use one of auto, fp32, bf16, fp16"):
        inference_dtype("cpu", "int4")


def test_bf16_predictions_agree_with_fp32(classifier_dir: Path) -> None:
    texts = ["Tim Cook visits Berlin", "Sarah works for Starbucks in London", "😀 @BarackObama"]
    sentences = [[w.text for w in pretokenize(t)] for t in texts]
    runs = []
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        predictor = EntityPredictor(classifier_dir, precision=precision)
        assert predictor.network.dtype == dtype
        tags, scores = predict_word_tags(predictor.tokenizer, predictor.network, sentences, 32)
        runs.append(([t for ts in tags for t in ts], [p for ps in scores for p in ps]))
    (tags_32, probs_32), (tags_16, probs_16) = runs
    # bf16 keeps 8 mantissa bits: each word's top probability moves by well under 0.05, so
    # a label can flip only where two labels were all but tied.
    assert max(abs(p - q) for p, q in zip(probs_32, probs_16, strict=True)) < 0.05
    agree = sum(a == b for a, b in zip(tags_32, tags_16, strict=True)) / len(tags_32)
    assert agree >= 0.9
