"""Property-based checks: the reader round-trips and every word is scored exactly once."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nerflow.corpus.conll import read_conll
from nerflow.corpus.labels import LABELS
from nerflow.corpus.tokenize import IGNORE, align_labels
from nerflow.inference.predict import load_model, predict_word_tags

# Tokens as tweets have them: any printable text without the column and line separators.
TOKEN = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
).filter(lambda token: token != "-DOCSTART-")  # CoNLL-2003's document marker is skipped
WORD = st.one_of(TOKEN, st.just(""), st.sampled_from(["😀", "http://t.co/x", "@", "#tag", "n't"]))
SENTENCE = st.lists(st.tuples(TOKEN, st.sampled_from(LABELS)), min_size=1, max_size=15)


def iob2(tags: list[str]) -> list[str]:
    """What the reader promises: an I- that does not continue its type opens an entity."""
    fixed, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        fixed.append(tag)
        previous = tag
    return fixed


@given(st.lists(SENTENCE, min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_reader_round_trips_any_tokens_and_tags(sentences: list[list[tuple[str, str]]]) -> None:
    text = "\n\n".join("\n".join(f"{token}\t{tag}" for token, tag in s) for s in sentences)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.conll"
        path.write_text(text, encoding="utf-8")
        read = read_conll(path)
    # the reader's text is NFC: a token comes back in its composed form
    expected = [[unicodedata.normalize("NFC", t.strip()) for t, _ in s] for s in sentences]
    assert [s.tokens for s in read] == expected
    assert [s.tags for s in read] == [iob2([tag for _, tag in s]) for s in sentences]


@given(
    st.lists(st.lists(WORD, min_size=0, max_size=30), min_size=1, max_size=6), st.integers(8, 40)
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_word_gets_exactly_one_scored_label(
    classifier_dir: Path, sentences: list[list[str]], max_length: int
) -> None:
    tokenizer, network = load_model(classifier_dir)
    tags, scores = predict_word_tags(tokenizer, network, sentences, max_length, batch_size=3)
    assert [len(t) for t in tags] == [len(s) for s in sentences] == [len(s) for s in scores]
    assert all(tag in LABELS for sentence in tags for tag in sentence)
    for words in (s for s in sentences if s):
        encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        word_ids = encoded.word_ids()
        labels = align_labels(word_ids, [0] * len(words))
        trained = [i for i, label in enumerate(labels) if label != IGNORE]
        # one trained position per word that kept a sub-word, none for the rest
        assert len(trained) == len({w for w in word_ids if w is not None})
