"""The @-mention convention: harmonized training tags, the decoding rule, the score on names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import EvalPrediction

from nerflow.corpus.conventions import harmonize_mentions, without_bare_mentions
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import IGNORE
from nerflow.inference.mentions import CONFIG_ATTRIBUTE, decode_mentions
from nerflow.metrics.scores import EntityMetrics

# Section B's way (`@` O before the name) and E-H's way (`@` an entity of the name's type).
WORDS = ["thanks", "@", "bbc", "and", "@", "tim", "@", "lol", "@", "ann", "lee"]
B_STYLE = ["O", "O", "B-ORG", "O", "O", "B-PER", "O", "O", "O", "B-PER", "I-PER"]
EH_STYLE = ["O", "B-ORG", "B-ORG", "O", "B-PER", "B-PER", "O", "O", "B-PER", "B-PER", "I-PER"]


def test_both_styles_harmonize_to_the_same_tags() -> None:
    for convention in ("mention-entity", "mention-o"):
        assert harmonize_mentions(WORDS, B_STYLE, convention) == harmonize_mentions(
            WORDS, EH_STYLE, convention
        )
    assert harmonize_mentions(WORDS, B_STYLE, "mention-entity") == EH_STYLE
    assert harmonize_mentions(WORDS, EH_STYLE, "mention-o") == B_STYLE
    for convention in ("as-labelled", "decode"):
        assert harmonize_mentions(WORDS, B_STYLE, convention) == B_STYLE


def test_an_at_sign_inside_one_entity_leaves_the_name_starting_it() -> None:
    words, tags = ["@", "ann", "lee"], ["B-PER", "I-PER", "I-PER"]
    assert harmonize_mentions(words, tags, "mention-o") == ["O", "B-PER", "I-PER"]


def test_decoding_gives_each_at_sign_its_mention_s_type_and_score() -> None:
    tags, scores = decode_mentions(WORDS, B_STYLE, [0.9] * 4 + [0.1, 0.7] + [0.9] * 5)
    assert tags == EH_STYLE
    assert scores[4] == scores[5] == 0.7
    # A predicted `@ name` entity becomes the corpus's two.
    assert decode_mentions(["@", "tim"], ["B-PER", "I-PER"])[0] == ["B-PER", "B-PER"]
    assert decode_mentions(["@"], ["B-PER"])[0] == ["O"]


def test_the_score_on_names_leaves_out_bare_at_entities_only() -> None:
    assert without_bare_mentions(WORDS, EH_STYLE) == B_STYLE
    # `@` inside a longer entity is part of a name.
    assert without_bare_mentions(["@", "ann"], ["B-PER", "I-PER"]) == ["B-PER", "I-PER"]


def _prediction(words: list[str], gold: list[str], predicted: list[str]) -> EvalPrediction:
    # One tweet as the Trainer hands it over: [CLS] words... [SEP], "@name" as two sub-words.
    ids = {"[CLS]": 101, "[SEP]": 102, "@": 7, "##x": 9}
    inputs, labels, logits = [101], [IGNORE], [np.zeros(len(LABELS))]
    for word, g, p in zip(words, gold, predicted, strict=True):
        inputs.append(ids.get(word, ids["@"] if word.startswith("@") else 50))
        labels.append(LABELS.index(g))
        logits.append(np.eye(len(LABELS))[LABELS.index(p)])
        if word.startswith("@") and word != "@":  # a joined "@name": `@` then a continuation
            inputs.append(ids["##x"])
            labels.append(IGNORE)
            logits.append(np.eye(len(LABELS))[0])
    inputs.append(102)
    labels.append(IGNORE)
    logits.append(np.zeros(len(LABELS)))
    return EvalPrediction(
        predictions=np.array([logits]), label_ids=np.array([labels]), inputs=np.array([inputs])
    )


def test_per_epoch_validation_decodes_lone_at_signs_as_prediction_will() -> None:
    words = ["@", "tim", "@bbc", "news"]
    gold = ["B-PER", "B-PER", "O", "B-ORG"]
    predicted = ["O", "B-PER", "O", "B-ORG"]  # what a mention-o model predicts
    prediction = _prediction(words, gold, predicted)
    assert EntityMetrics(mention_id=7, special_ids=[101, 102])(prediction)["f1"] == 1.0
    assert EntityMetrics()(prediction)["f1"] < 1.0
    # A joined "@bbc" is one word, not a lone `@`: it is not given the next word's type.
    assert (
        EntityMetrics(mention_id=7, special_ids=[101, 102])(
            _prediction(words, ["B-PER", "B-PER", "B-ORG", "B-ORG"], predicted)
        )["f1"]
        < 1.0
    )


@pytest.fixture
def decoding_model(classifier_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "decoding"
    shutil.copytree(classifier_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, CONFIG_ATTRIBUTE: "mention-o"}))
    return folder


def test_a_model_trained_under_mention_o_tags_at_signs_by_the_rule(
    classifier_dir: Path, decoding_model: Path
) -> None:
    from nerflow.inference.predict import load_model, predict_word_tags

    sentences = [["rt", "@", "barackobama", ":", "great", "@", "day"], ["@"], ["a", "@"]]
    plain, _ = predict_word_tags(*load_model(classifier_dir), sentences, 32)
    decoded, _ = predict_word_tags(*load_model(decoding_model), sentences, 32)
    for words, before, after in zip(sentences, plain, decoded, strict=True):
        expected, _ = decode_mentions(words, before)
        assert after == expected
