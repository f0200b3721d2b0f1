import pytest

from nerflow.corpus.labels import parse_label_map, to_btc_tags


def test_label_map_parses_and_validates_targets() -> None:
    assert parse_label_map("person=PER, group=ORG") == {"person": "PER", "group": "ORG"}
    assert parse_label_map(None) == {}
    with pytest.raises(ValueError, match="target 'MISC' is not one of PER, ORG, LOC"):
        parse_label_map("product=MISC")
    with pytest.raises(ValueError, match="expected SOURCE=TARGET"):
        parse_label_map("person")


def test_mapped_types_keep_their_spans_and_unmapped_become_o() -> None:
    tags = ["B-person", "I-person", "O", "B-product", "B-corporation", "I-corporation"]
    mapping = {"person": "PER", "corporation": "ORG"}
    assert to_btc_tags(tags, "iob2", mapping) == ["B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG"]


def test_two_source_types_mapped_to_one_stay_two_entities() -> None:
    mapping = {"corporation": "ORG", "group": "ORG"}
    assert to_btc_tags(["B-corporation", "B-group", "I-group"], "iob2", mapping) == [
        "B-ORG", "B-ORG", "I-ORG",
    ]  # fmt: skip


def test_bioes_and_iob1_become_iob2() -> None:
    bioes = ["S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "O"]
    assert to_btc_tags(bioes, "bioes", {}) == ["B-PER", "B-LOC", "I-LOC", "I-LOC", "B-LOC", "O"]
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert to_btc_tags(iob1, "iob1", {}) == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
