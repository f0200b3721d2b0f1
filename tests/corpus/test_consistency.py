"""The consistency report: how a file labels @-mentions, hashtags and URLs, and what the data
step writes and harmonizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import load_from_disk

from nerflow.config import DataConfig, MentionConvention
from nerflow.corpus.assemble import collect_sources, read_sources, write_dataset
from nerflow.corpus.conll import read_conll
from nerflow.corpus.consistency import (
    CONVENTIONS,
    SourceConventions,
    read_conventions,
    render_report,
    source_conventions,
)
from nerflow.corpus.incoming import ingest
from tests.conftest import CONLL_DIR, FIXTURES

#: Section B's way: the `@` of a mention is O twice, the entity once; a split hashtag; a URL.
B_STYLE = FIXTURES / "mentions_b_style.conll"
#: Sections E-H's way: the `@` is an entity of the mention's type; one `@` inside a longer
#: entity; a joined @name and #tag.
EH_STYLE = FIXTURES / "mentions_eh_style.conll"


def counted(path: Path, convention: MentionConvention = "mention-o") -> SourceConventions:
    return source_conventions(path.name, "incoming", "train", read_conll(path), convention)


def row(o: int = 0, per: int = 0, org: int = 0, loc: int = 0) -> dict[str, int]:
    return {"O": o, "PER": per, "ORG": org, "LOC": loc}


@pytest.mark.parametrize(
    ("path", "counts", "mentions", "differs"),
    [
        (
            B_STYLE,
            {"@ before entity": row(2, per=1), "@ before O": row(1), "# before word": row(1),
             "word after #": row(org=1), "URL": row(1)},
            (2, 1, "O"),
            True,
        ),
        (
            EH_STYLE,
            {"@ before entity": row(per=1, org=1), "@ in entity": row(per=1), "@name": row(1),
             "#tag": row(loc=1)},
            (0, 2, "entity"),
            False,
        ),
    ],
    ids=["section-B-style", "sections-E-H-style"],
)  # fmt: skip
def test_a_files_mentions_are_counted_and_its_style_compared_with_the_corpus(
    path: Path, counts: dict[str, dict[str, int]], mentions: tuple[int, int, str], differs: bool
) -> None:
    report = counted(path)
    assert report.counts == counts
    assert (report.mention_o, report.mention_entity, report.style) == mentions
    assert report.differs is differs


def test_a_file_without_mentions_has_no_style_and_no_difference(tmp_path: Path) -> None:
    plain = tmp_path / "plain.conll"
    plain.write_text("Angela\tB-PER\nin\tO\nOslo\tB-LOC\n", encoding="utf-8")
    report = counted(plain)
    assert report.counts == {} and report.style is None and not report.differs


def build(tmp_path: Path, convention: MentionConvention, name: str = "out") -> Path:
    """The fixture corpus with a section-B-style incoming file, written by the data step."""
    incoming = tmp_path / "incoming"
    if not incoming.exists():
        ingest([B_STYLE], incoming)
    data = DataConfig(
        source="conll", local_dir=CONLL_DIR, incoming_dir=incoming, mention_convention=convention
    )
    out = tmp_path / name
    out.mkdir()
    write_dataset(data, read_sources(collect_sources(data, tmp_path / "work")), out)
    return out


@pytest.mark.parametrize(
    ("convention", "mentions"),
    [
        # The file's four `@`: three before an entity (O, O, B-PER as labelled), and one
        # before `lol` that stays O under every convention.
        ("mention-o", ["O", "O", "O", "O"]),
        ("mention-entity", ["B-PER", "B-ORG", "B-PER", "O"]),
        ("as-labelled", ["O", "O", "B-PER", "O"]),
    ],
)
def test_the_incoming_files_mentions_are_harmonized_in_the_saved_training_split(
    tmp_path: Path, convention: MentionConvention, mentions: list[str]
) -> None:
    out = build(tmp_path, convention)
    train = load_from_disk(str(out / "dataset"))["train"]
    names = train.features["ner_tags"].feature.names
    found = []
    for row in train:
        if row["id"].startswith("mentions_b_style-"):
            tags = [names[t] for t in row["ner_tags"]]
            found += [tags[i] for i, w in enumerate(row["tokens"][:-1]) if w == "@"]
    assert found == mentions
    report = read_conventions(out)
    [incoming] = [s for s in report.sources if s.origin == "incoming"]
    assert incoming.differs and (incoming.mention_o, incoming.mention_entity) == (2, 1)
    # What the report says training changed is what the saved split holds.
    assert incoming.retagged == sum(
        a != b for a, b in zip(found, ["O", "O", "B-PER", "O"], strict=True)
    )


def test_the_report_is_the_same_bytes_for_the_same_data_and_holds_no_path(tmp_path: Path) -> None:
    first = build(tmp_path, "mention-o", "first")
    second = build(tmp_path, "mention-o", "second")
    text = (first / CONVENTIONS).read_text(encoding="utf-8")
    assert text == (second / CONVENTIONS).read_text(encoding="utf-8")
    assert str(tmp_path) not in text and str(CONLL_DIR) not in text
    report = read_conventions(first)
    order = [(s.split, s.origin) for s in report.sources]
    assert order == [("train", "conll"), ("train", "incoming"), ("validation", "conll"),
                     ("test", "conll")]  # fmt: skip
    table = render_report(report, "markdown")
    assert "| mentions_b_style-" in table and "mention-o" in table
