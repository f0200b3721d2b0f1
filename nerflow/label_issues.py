"""Likely label errors: cleanlab's confident learning on the given tags and out-of-sample
word probabilities, ranked worst first and written per source."""

from __future__ import annotations

import csv
import logging
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from nerflow.config import MentionConvention
from nerflow.corpus.conventions import HARMONIZING, harmonize_mentions
from nerflow.inference.mentions import CONFIG_ATTRIBUTE

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

#: Written beside the per-source files: which tags were ranked, and per source the counts.
SUMMARY = "summary.json"
#: Rows of each source's Markdown table (its TSV holds them all).
MARKDOWN_ROWS = 50
COLUMNS = ("location", "word", "given", "predicted", "probability", "quality", "text")


@dataclass(frozen=True)
class LabelledTweet:
    """One tweet as ranked: where it comes from and the tags the model was taught."""

    source: str  # a BTC section, an incoming file's stem
    file: str  # the file name its locations name
    line: int  # the line of its first word
    words: list[str]
    tags: list[str]


class LabelIssue(BaseModel):
    """One word whose given tag cleanlab flags as a likely error."""

    source: str
    location: str  # file:line of the word
    text: str
    word: str
    given: str
    predicted: str  # the model's most likely tag
    probability: float  # of the predicted tag
    quality: float  # cleanlab's label quality score (self-confidence): lower is worse


class SourceSummary(BaseModel):
    """What was ranked of one source, and how much cleanlab flagged."""

    tweets: int
    words: int
    flagged: int


class IssuesSummary(BaseModel):
    """What a ranking covered: the tags ranked and each source's counts."""

    ranked_tags: str
    sources: dict[str, SourceSummary]


def rank_label_issues(
    tweets: list[LabelledTweet], probabilities: list[np.ndarray], labels: list[str]
) -> list[LabelIssue]:
    """cleanlab's likely label errors, worst first; `probabilities[i]` is tweet i's words x
    `labels` (out-of-sample: from a model that did not train on that tweet)."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    index = {label: i for i, label in enumerate(labels)}
    given: list[list[int]] = []
    rows: list[np.ndarray] = []
    kept: list[list[int]] = []  # per tweet, the words the model saw
    for tweet, probs in zip(tweets, probabilities, strict=True):
        # A word with no sub-word (truncated, dropped by the tokenizer) has a zero row: the
        # model said nothing about it, so it is left out rather than judged.
        seen = [j for j in range(len(tweet.words)) if probs[j].any()]
        for j in seen:
            if tweet.tags[j] not in index:
                raise ValueError(
                    f"{tweet.file}:{tweet.line + j}: tag {tweet.tags[j]!r} is not one of the "
                    f"model's labels ({', '.join(labels)})"
                )
        given.append([index[tweet.tags[j]] for j in seen])
        rows.append(probs[seen] / probs[seen].sum(-1, keepdims=True))
        kept.append(seen)
    judged = [i for i, seen in enumerate(kept) if seen]  # cleanlab needs words to judge
    if not judged:
        return []
    labels_in = [given[i] for i in judged]
    probs_in = [rows[i] for i in judged]
    # One call over every source: its per-class thresholds are better estimated on more words.
    # A tag with only a few words (an ingested file's) cannot have all its errors estimated;
    # cleanlab warns of it once per tag, noise in front of a command's output.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "May not flag all label issues", UserWarning)
        flagged = find_label_issues(labels_in, probs_in, n_jobs=1)
    _, scores = get_label_quality_scores(labels_in, probs_in)
    issues = []
    for i, k in flagged:
        tweet, j = tweets[judged[i]], kept[judged[i]][k]
        best = int(probs_in[i][k].argmax())
        issues.append(
            LabelIssue(
                source=tweet.source,
                location=f"{tweet.file}:{tweet.line + j}",
                text=" ".join(tweet.words),
                word=tweet.words[j],
                given=tweet.tags[j],
                predicted=labels[best],
                probability=float(probs_in[i][k][best]),
                quality=float(scores[i].iloc[k]),
            )
        )
    return issues


def write_label_issues(
    issues: list[LabelIssue], tweets: list[LabelledTweet], ranked_tags: str, out: Path
) -> None:
    """Per source a TSV of every flagged word and a Markdown table of the worst; a summary."""
    counts: dict[str, SourceSummary] = {}
    for tweet in tweets:
        seen = counts.get(tweet.source, SourceSummary(tweets=0, words=0, flagged=0))
        counts[tweet.source] = SourceSummary(
            tweets=seen.tweets + 1, words=seen.words + len(tweet.words), flagged=seen.flagged
        )
    out.mkdir(parents=True, exist_ok=True)
    for source, seen in counts.items():
        mine = [issue for issue in issues if issue.source == source]
        counts[source] = seen.model_copy(update={"flagged": len(mine)})
        stem = file_stem(source)
        with (out / f"{stem}.tsv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows([getattr(issue, c) for c in COLUMNS] for issue in mine)
        (out / f"{stem}.md").write_text(
            markdown(source, mine, counts[source], ranked_tags), encoding="utf-8"
        )
    summary = IssuesSummary(ranked_tags=ranked_tags, sources=counts)
    (out / SUMMARY).write_text(summary.model_dump_json(indent=2), encoding="utf-8")


def read_label_issues(folder: Path) -> tuple[IssuesSummary, list[LabelIssue]]:
    """What `write_label_issues` wrote: the summary and every flagged word, worst first."""
    summary = IssuesSummary.model_validate_json((folder / SUMMARY).read_text(encoding="utf-8"))
    issues = []
    for source in summary.sources:
        with (folder / f"{file_stem(source)}.tsv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                issues.append(LabelIssue.model_validate({**row, "source": source}))
    return summary, sorted(issues, key=lambda issue: issue.quality)


def ranking_metrics(folder: Path) -> dict[str, float]:
    """Per source, the words flagged and their share of its words: a run's metrics."""
    summary = read_label_issues(folder)[0]
    metrics: dict[str, float] = {}
    for source, counts in summary.sources.items():
        metrics[f"flagged/{file_stem(source)}"] = counts.flagged
        metrics[f"flagged_share/{file_stem(source)}"] = counts.flagged / max(counts.words, 1)
    return metrics


def markdown(source: str, issues: list[LabelIssue], counts: SourceSummary, ranked: str) -> str:
    """A source's worst flagged words as a Markdown table, with what was ranked."""
    from nerflow.reporting.tables import render

    head = (
        f"# Likely label errors: {source}\n\n{counts.flagged} of {counts.words} words "
        f"({counts.tweets} tweets) flagged by cleanlab; tags ranked: {ranked}. "
        f"Worst {min(MARKDOWN_ROWS, len(issues))} shown, all in {file_stem(source)}.tsv.\n\n"
    )
    # A Markdown cell must not close on a `|` in the tweet.
    rows = [
        {k: v.replace("|", "\\|") if isinstance(v, str) else v for k, v in _shown(issue).items()}
        for issue in issues[:MARKDOWN_ROWS]
    ]
    return head + render(rows, COLUMNS, style="markdown") + "\n"


def top_table(issues: list[LabelIssue], top: int) -> str:
    """The `top` worst flagged words of all sources as an aligned text table."""
    from nerflow.reporting.tables import render

    rows = [_shown(issue) for issue in sorted(issues, key=lambda i: i.quality)[:top]]
    return render(rows, ("source", *COLUMNS[:-1], "text"))


def _shown(issue: LabelIssue) -> dict[str, object]:
    """A row of a table for reading: a long tweet cut to fit a line."""
    text = issue.text if len(issue.text) <= 80 else issue.text[:77] + "..."
    return {**issue.model_dump(), "text": text}


def file_stem(source: str) -> str:
    """A source's name as a file name (a hub id's `/` is not a folder)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", source).strip("._") or "source"


def held_out_tweets(fold_dir: Path) -> list[LabelledTweet]:
    """A fold's held-out tweets with their training tags, located in their source files."""
    from datasets import load_from_disk

    from nerflow.corpus.folds import HELD_OUT, tweet_origin
    from nerflow.corpus.labels import LABELS
    from nerflow.corpus.manifest import read_manifest

    names = {
        Path(entry.name).stem: entry.name
        for entry in read_manifest(fold_dir).sources
        if entry.split == "train" and entry.path is not None
    }
    rows = load_from_disk(str(fold_dir / HELD_OUT))
    tweets = []
    for row in rows:
        stem, line = tweet_origin(row["id"])
        tags = [LABELS[t] for t in row["ner_tags"]]
        if stem in names:
            tweets.append(LabelledTweet(stem, names[stem], line, row["tokens"], tags))
        else:  # a hub row: no file, its id stands for the place
            tweets.append(LabelledTweet("hub", f"hub row {row['id']} word", 1, row["tokens"], tags))
    return tweets


def file_tweets(path: Path) -> list[LabelledTweet]:
    """A CoNLL file's tweets with their tags as labelled, located in it."""
    from nerflow.corpus.conll import read_conll

    return [LabelledTweet(path.stem, path.name, s.line, s.tokens, s.tags) for s in read_conll(path)]


def rank_files(
    files: list[Path], model_dir: Path, max_length: int
) -> tuple[list[LabelledTweet], list[LabelIssue], str]:
    """A model's ranking of CoNLL files' labels: the tweets with the tags it judged (the
    @-mentions as the convention it was trained under has them), the flagged words, and
    which tags those were."""
    plain = [tweet for path in files for tweet in file_tweets(path)]
    words = [tweet.words for tweet in plain]
    probabilities, labels, convention = model_probabilities(model_dir, words, max_length)
    tweets = [
        replace(tweet, tags=harmonize_mentions(tweet.words, tweet.tags, convention))
        for tweet in plain
    ]
    return tweets, rank_label_issues(tweets, probabilities, labels), ranked_tags(convention)


def model_probabilities(
    model_dir: Path, sentences: list[list[str]], max_length: int
) -> tuple[list[np.ndarray], list[str], MentionConvention]:
    """A model's word probabilities on the sentences, its labels in their order, and the
    @-mention convention it was trained under (`as-labelled` if it does not say)."""
    from nerflow.inference.predict import load_model, word_probabilities

    tokenizer, network = load_model(model_dir)
    labels = [network.config.id2label[i] for i in range(len(network.config.id2label))]
    probabilities = word_probabilities(tokenizer, network, sentences, max_length)
    convention = getattr(network.config, CONFIG_ATTRIBUTE, None) or "as-labelled"
    return probabilities, labels, cast(MentionConvention, convention)


def rank_folds(folds: list[tuple[Path, Path]], max_length: int, out: Path) -> None:
    """Every fold's held-out tweets judged by the model trained without them, ranked and
    written per source (`write_label_issues`) in `out`."""
    from nerflow.corpus.manifest import read_manifest

    tweets: list[LabelledTweet] = []
    probabilities: list[np.ndarray] = []
    labels: list[str] = []
    for number, (fold_dir, model_dir) in enumerate(folds, start=1):
        held_out = held_out_tweets(fold_dir)
        logger.info("fold %d/%d: predicting its %d held-out tweets", number, len(folds),
                    len(held_out))  # fmt: skip
        words = [tweet.words for tweet in held_out]
        found, labels, _ = model_probabilities(model_dir, words, max_length)
        tweets += held_out
        probabilities += found
    issues = rank_label_issues(tweets, probabilities, labels)
    convention = read_manifest(folds[0][0]).mention_convention
    write_label_issues(issues, tweets, ranked_tags(convention), out)
    logger.info("cleanlab flagged %d of %d words", len(issues),
                sum(len(t.words) for t in tweets))  # fmt: skip


def ranked_tags(convention: MentionConvention) -> str:
    """Which tags a ranking judged, in words: the given ones as the model was taught them."""
    if convention in HARMONIZING:
        return f"the given tags with @-mentions harmonized to {convention}, as the model learnt"
    return f"the given tags as labelled, as the model learnt ({convention})"
