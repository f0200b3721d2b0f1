import unicodedata
from pathlib import Path

import pytest
import torch

from nerflow.inference.predict import EntityPredictor
from nerflow.inference.text import Span, Word, pretokenize, spans_from_tags


def test_pretokenize_splits_like_the_corpus_with_offsets() -> None:
    text = "RT @BarackObama: Great day in #Chicago! http://t.co/x1 don't, it's 😀"
    words = pretokenize(text)
    assert [w.text for w in words] == [
        "RT", "@", "BarackObama", ":", "Great", "day", "in", "#Chicago", "!", "http://t.co/x1",
        "do", "n't", ",", "it", "'s", "😀",
    ]  # fmt: skip
    assert all(text[w.start : w.end] == w.text for w in words)


def test_a_tagged_at_sign_and_user_name_become_one_mention() -> None:
    text = "thanks @BBC and @ Tim"
    words = pretokenize(text)  # thanks @ BBC and @ Tim
    tags = ["O", "B-ORG", "B-ORG", "O", "B-PER", "B-PER"]
    spans = spans_from_tags(text, words, tags, [1.0, 0.8, 0.6, 1.0, 1.0, 1.0])
    assert [(s.type, s.text, s.score) for s in spans] == [
        ("ORG", "@BBC", 0.7),
        ("PER", "@", 1.0),  # not adjacent: left as the model tagged it
        ("PER", "Tim", 1.0),
    ]


def test_spans_join_iob_tags_with_offsets_into_the_original_text() -> None:
    text = "Zachary  Raicik works for Corvus in San Diego"
    words = pretokenize(text)
    tags = ["B-PER", "I-PER", "O", "O", "B-ORG", "O", "B-LOC", "I-LOC"]
    scores = [0.9, 0.7, 1, 1, 0.5, 1, 0.8, 0.6]
    spans = spans_from_tags(text, words, tags, scores)
    assert spans == [
        Span("PER", "Zachary  Raicik", 0, 15, 0.8),
        Span("ORG", "Corvus", 26, 32, 0.5),
        Span("LOC", "San Diego", 36, 45, 0.7),
    ]


def test_an_i_tag_of_another_type_starts_a_new_span() -> None:
    words = [Word("a", 0, 1), Word("b", 2, 3), Word("c", 4, 5)]
    spans = spans_from_tags("a b c", words, ["I-PER", "I-LOC", "B-LOC"], [1.0, 1.0, 1.0])
    assert [(s.type, s.text) for s in spans] == [("PER", "a"), ("LOC", "b"), ("LOC", "c")]


def test_mismatched_tags_are_an_error() -> None:
    with pytest.raises(ValueError, match="1 words but 2 tags"):
        spans_from_tags("a", [Word("a", 0, 1)], ["O", "O"], [1.0, 1.0])


def test_predictor_handles_empty_long_and_emoji_texts(classifier_dir: Path) -> None:
    predictor = EntityPredictor(classifier_dir, max_length=32, batch_size=2)
    texts = ["", "😀😀", "paris " * 2000, "Tim Cook visits Berlin"]
    results = predictor.predict(texts)
    assert len(results) == 4
    assert results[0] == []
    for text, spans in zip(texts, results, strict=True):
        for span in spans:
            assert text[span.start : span.end] == span.text
            assert span.type in {"PER", "ORG", "LOC"} and 0.0 <= span.score <= 1.0


def test_a_text_longer_than_the_window_is_warned_about(
    classifier_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    predictor = EntityPredictor(classifier_dir, max_length=16, precision="fp32")
    with caplog.at_level("WARNING", logger="nerflow.inference.predict"):
        spans = predictor.predict(["paris is nice " * 20, "paris is nice"])
    assert len(spans) == 2
    assert any("1 of 2 texts are longer than 16 sub-words" in r.message for r in caplog.records)


NAMES = "José Müller flew from Zürich to Łódź with Ångström & Nguyễn"


def test_decomposed_text_splits_into_the_same_words_with_offsets_into_it() -> None:
    decomposed = unicodedata.normalize("NFD", NAMES)
    words = pretokenize(decomposed)
    assert [w.text for w in words] == [w.text for w in pretokenize(NAMES)]
    assert all(unicodedata.normalize("NFC", decomposed[w.start : w.end]) == w.text for w in words)


def test_decomposed_and_composed_text_give_the_same_entities(classifier_dir: Path) -> None:
    predictor = EntityPredictor(classifier_dir, max_length=64, precision="fp32")
    with torch.no_grad():  # every word its own PER: one span per word the model sees
        predictor.network.classifier.bias.fill_(0.0)
        predictor.network.classifier.bias[predictor.network.config.label2id["B-PER"]] = 50.0
    texts = [NAMES, unicodedata.normalize("NFD", NAMES)]
    composed, decomposed = predictor.predict(texts)
    assert [s.text for s in composed][:2] == ["José", "Müller"]
    for text, spans in zip(texts, (composed, decomposed), strict=True):
        assert all(text[s.start : s.end] == s.text for s in spans)
    assert [(s.type, unicodedata.normalize("NFC", s.text), s.score) for s in decomposed] == [
        (s.type, s.text, s.score) for s in composed
    ]
