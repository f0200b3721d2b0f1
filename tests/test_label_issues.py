"""cleanlab's ranking with probabilities from a model trained on a corpus with one planted
label error: the error is flagged, where it is, and the ranking is written per source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nerflow.tasks.gather_corpus import gather_corpus
from nerflow.tasks.tokenize_dataset import tokenize_dataset
from nerflow.tasks.train_model import train_model

from nerflow.config import DataConfig, ModelConfig, TrainingConfig
from nerflow.corpus.folds import assign_folds
from nerflow.label_issues import (
    LabelledTweet,
    rank_files,
    rank_label_issues,
    read_label_issues,
    write_label_issues,
)

#: Tweets of the fixture's words, repeated: a tiny BERT learns them in a few dozen steps.
TEMPLATES = (
    (("Taylor", "B-PER"), ("Swift", "I-PER"), ("landed", "O"), ("in", "O"), ("Chicago", "B-LOC")),
    (("Apple", "B-ORG"), ("shares", "O"), ("up", "O"), ("after", "O"), ("Tim", "B-PER"),
     ("Cook", "I-PER"), ("speaks", "O")),
    (("Just", "O"), ("landed", "O"), ("in", "O"), ("New", "B-LOC"), ("York", "I-LOC")),
)  # fmt: skip
COPIES = 24
#: The copy of the first template whose `Chicago` is tagged B-PER instead of B-LOC.
PLANTED_COPY = 10
#: Enough for the tiny BERT to learn the templates well enough (measured: about 10 s).
STEPS = 40


def write_planted_corpus(folder: Path) -> int:
    """train/validation/test CoNLL files in `folder`; the planted error's line in train."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    planted = 0
    for copy in range(COPIES):
        for number, template in enumerate(TEMPLATES):
            for word, tag in template:
                if copy == PLANTED_COPY and number == 0 and word == "Chicago":
                    tag, planted = "B-PER", len(lines) + 1
                lines.append(f"{word}\t{tag}")
            lines.append("")
    (folder / "train.conll").write_text("\n".join(lines), encoding="utf-8")
    for split, order in (("validation", TEMPLATES), ("test", TEMPLATES[::-1])):
        once = "\n\n".join("\n".join(f"{w}\t{t}" for w, t in tweet) for tweet in order)
        (folder / f"{split}.conll").write_text(once + "\n", encoding="utf-8")
    return planted


def planted_config(
    corpus: Path, tiny_model_dir: Path
) -> tuple[DataConfig, ModelConfig, TrainingConfig]:
    """The run that learns the planted corpus: the tiny BERT, STEPS steps."""
    data = DataConfig(source="conll", local_dir=corpus, max_length=32, incoming_dir=None)
    model = ModelConfig(base_model=str(tiny_model_dir))
    training = TrainingConfig(max_steps=STEPS, batch_size=16, learning_rate=1e-2, warmup_ratio=0.0)
    return data, model, training


def train_planted(root: Path, tiny_model_dir: Path) -> tuple[Path, int, Path]:
    """The planted corpus's train file, the planted line, and a model trained on it."""
    planted = write_planted_corpus(root / "corpus")
    data, model, training = planted_config(root / "corpus", tiny_model_dir)
    work = root / "work"
    tokenized = tokenize_dataset(gather_corpus(data, work), model, data, work)
    return root / "corpus" / "train.conll", planted, train_model(tokenized, model, training, work)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> tuple[Path, int, Path]:
    """`train_planted`, once for the module."""
    return train_planted(tmp_path_factory.mktemp("planted"), tiny_model_dir)


def test_a_planted_label_error_is_flagged_first(trained: tuple[Path, int, Path]) -> None:
    train_file, planted, model_dir = trained
    tweets, issues, ranked = rank_files([train_file], model_dir, 32)
    assert issues, "cleanlab flagged nothing: the model did not learn the templates"
    worst = issues[0]
    assert worst.location == f"train.conll:{planted}"
    assert (worst.word, worst.given) == ("Chicago", "B-PER") and worst.predicted != "B-PER"
    # The model favours another tag well over the one given.
    assert worst.quality < worst.probability / 2
    # The 23 correct copies of the same word are not flagged.
    assert [issue.word for issue in issues].count("Chicago") == 1
    assert len(tweets) == COPIES * len(TEMPLATES) and "@-mentions harmonized" in ranked


def test_the_ranking_is_written_per_source_and_read_back_worst_first(tmp_path: Path) -> None:
    labels = ["O", "B-PER", "I-PER"]
    tweets = [
        LabelledTweet("a", "a.conll", 1 + 3 * i, ["Anna", "sings"], ["B-PER", "O"])
        for i in range(20)
    ]
    tweets.append(LabelledTweet("b", "b.conll", 7, ["Anna", "sings"], ["O", "O"]))
    sure = np.array([[0.02, 0.97, 0.01], [0.97, 0.02, 0.01]], dtype=np.float32)
    probabilities = [sure.copy() for _ in tweets]
    probabilities[3][1] = 0  # a word the model never saw (truncated) is not judged
    issues = rank_label_issues(tweets, probabilities, labels)
    assert [(i.source, i.location, i.given, i.predicted) for i in issues] == [
        ("b", "b.conll:7", "O", "B-PER")
    ]
    write_label_issues(issues, tweets, "the given tags", tmp_path)
    summary, read = read_label_issues(tmp_path)
    assert read == issues
    assert summary.sources["a"].flagged == 0 and summary.sources["a"].words == 40
    assert summary.sources["b"].flagged == 1
    assert {p.name for p in tmp_path.iterdir()} == {
        "a.tsv",
        "a.md",
        "b.tsv",
        "b.md",
        "summary.json",
    }
    assert "b.conll:7" in (tmp_path / "b.md").read_text(encoding="utf-8")


def test_a_tag_the_model_does_not_know_is_named_with_its_line() -> None:
    tweet = LabelledTweet("a", "a.conll", 4, ["Anna", "sings"], ["B-PER", "B-MISC"])
    probabilities = [np.array([[0.1, 0.9], [0.9, 0.1]], dtype=np.float32)]
    with pytest.raises(ValueError, match=r"a\.conll:5: tag 'B-MISC' is not one of the model's"):
        rank_label_issues([tweet], probabilities, ["O", "B-PER"])


def test_folds_are_seeded_balanced_per_source_and_need_two_tweets_each() -> None:
    sources = ["a"] * 10 + ["b"] * 6
    folds = assign_folds(sources, 2, seed=1)
    assert folds == assign_folds(sources, 2, seed=1) != assign_folds(sources, 2, seed=2)
    assert folds[:10].count(0) == 5 and folds[10:].count(0) == 3
    with pytest.raises(ValueError, match="folds: 1 for 16 tweets"):
        assign_folds(sources, 1, seed=1)
