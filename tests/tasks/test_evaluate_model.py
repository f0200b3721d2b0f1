from pathlib import Path

import pytest
from nerflow.tasks.evaluate_model import evaluate_model
from nerflow.tasks.gather_corpus import gather_corpus

from nerflow.config import DataConfig
from nerflow.corpus.labels import LABELS
from nerflow.evaluation import read_report
from nerflow.inference.predict import load_model, predict_word_tags
from nerflow.metrics.scores import score_entities
from tests.conftest import CONLL_DIR


def test_entity_scores_follow_conlleval_rules() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O"]]
    scores = score_entities(gold, pred)
    assert scores["precision"] == 1.0
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert scores["per_type"]["PER"]["f1"] == 1.0
    # half an entity is a miss at entity level
    partial = score_entities([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert partial["f1"] == 0.0 and partial["token_weighted_f1"] > 0.0


def test_scoring_mismatched_lengths_is_an_error() -> None:
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        score_entities([["O", "O"]], [["O"]])


def test_every_word_gets_one_tag_even_without_subwords(classifier_dir: Path) -> None:
    tokenizer, network = load_model(classifier_dir)
    sentences = [["", "Paris", "is", "nice"], ["a"] * 40, ["😀"]]
    tags, scores = predict_word_tags(tokenizer, network, sentences, max_length=16, batch_size=2)
    assert [len(t) for t in tags] == [4, 40, 1] == [len(s) for s in scores]
    assert scores[0][0] == 0.0 and 0.0 < scores[0][1] <= 1.0
    assert tags[0][0] == "O"  # the empty word has no sub-word
    assert set(tags[1][16:]) == {"O"}  # words past truncation are scored as O
    assert all(tag in LABELS for seq in tags for tag in seq)


def test_report_covers_validation_and_test(tmp_path: Path, classifier_dir: Path) -> None:
    dataset_dir = gather_corpus(DataConfig(source="conll", local_dir=CONLL_DIR), tmp_path)
    report = read_report(evaluate_model(classifier_dir, dataset_dir, 32, tmp_path))
    assert set(report.splits) == {"validation", "test"}
    test = report.splits["test"]
    assert test.tweets == 4 and test.support == 6  # gold entities in test.conll
    assert set(test.per_type) == {"PER", "ORG", "LOC"}
    assert [len(p) for p in report.predictions["test"]] == [4, 4, 4, 4]


@pytest.mark.parametrize("aggregation", ["first", "average", "max"])
def test_aggregations_agree_on_single_subword_words(classifier_dir: Path, aggregation: str) -> None:
    tokenizer, network = load_model(classifier_dir)
    sentences = [["paris", "is", "nice"]]  # whole words in the fixture vocabulary
    first = predict_word_tags(tokenizer, network, sentences, 16)
    other = predict_word_tags(tokenizer, network, sentences, 16, aggregation=aggregation)  # type: ignore[arg-type]
    assert other[0] == first[0]
    assert other[1][0] == pytest.approx(first[1][0])
