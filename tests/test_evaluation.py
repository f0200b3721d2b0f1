"""Scoring a model on any CoNLL data: a label map that does not fit the data is said so."""

from __future__ import annotations

from pathlib import Path

import pytest

from nerflow.evaluation import score_conll
from nerflow.inference.predict import EntityPredictor
from tests.conftest import CONLL_DIR, FIXTURES


@pytest.fixture(scope="module")
def predictor(classifier_dir: Path) -> EntityPredictor:
    return EntityPredictor(classifier_dir, max_length=32, precision="fp32")


def test_a_label_map_that_misses_the_data_is_warned_about(
    predictor: EntityPredictor, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = {"PER": "PER", "LOC": "LOC", "organisation": "ORG"}  # the data says ORG
    with caplog.at_level("WARNING", logger="nerflow.evaluation"):
        scores = score_conll(predictor, CONLL_DIR / "test.conll", label_map=mapping)
    assert scores.per_type["ORG"].support == 0
    [warning] = [r.getMessage() for r in caplog.records]
    assert "'organisation' is not a type in the data" in warning
    assert "ORG (2 entities) is not in the map: scored as O" in warning


def test_a_map_that_fits_the_data_scores_without_a_warning(
    predictor: EntityPredictor, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = {"person": "PER", "location": "LOC", "corporation": "ORG", "product": "ORG"}
    with caplog.at_level("WARNING", logger="nerflow.evaluation"):
        scores = score_conll(predictor, FIXTURES / "other_tags.conll", label_map=mapping)
    assert scores.support == 6 and not caplog.records
