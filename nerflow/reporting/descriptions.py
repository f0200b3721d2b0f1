"""What MLflow shows about a run and a model in words: the run's note, descriptions, model card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nerflow.config import DEFAULT_BASE_MODEL, RunConfig
from nerflow.corpus.manifest import Manifest
from nerflow.reporting.tables import markdown_scores
from nerflow.training.meta import TrainingMeta

if TYPE_CHECKING:
    from nerflow.evaluation import EvaluationReport

#: The line the gate replaces with its decision.
PENDING = "**Promotion**: pending (the gate decides after registration)"

REGISTERED_MODEL = """NER tagger for tweets (PER, ORG, LOC), fine-tuned and registered by nerflow.

Aliases: `champion` is the version to serve; `previous-champion` the one rollback returns
to; `challenger` the last version that did not beat the champion. Each version's
description holds its scores, the promotion gate's decision (both models scored on the same
validation split) and its model card."""


def run_note(manifest: Manifest, report: EvaluationReport, champion_line: str) -> str:
    """Markdown for a training run: scores per type, the data, the champion, the decision."""
    sizes = manifest.splits
    # What a reader wants first comes first: the page shows the top lines, the rest folded.
    return "\n\n".join(
        [
            PENDING,
            f"**Data**: {manifest.description}: {sizes['train']} / {sizes['validation']} /"
            f" {sizes['test']} tweets (train / validation / test), data version"
            f" `{manifest.fingerprint[:12]}`",
            champion_line,
            markdown_scores(report.splits),
        ]
    )


def champion_line(champion: Any) -> str:
    """The champion's scores on the same splits, or that there was none to compare with."""
    if champion is None:
        return "**Champion**: none yet"
    val = champion.val
    return (
        f"**Champion** v{champion.version} on the same splits: validation F1 {val.f1:.3f}, "
        f"test F1 {champion.test_f1:.3f}"
    )


def decision_text(decision: Any) -> str:
    """The gate's decision and its checks, as Markdown."""
    lines = [f"**Promotion**: `{decision.action}`: {decision.reason}"]
    lines += [f"- {check}" for check in decision.checks]
    return "\n".join(lines)


def with_decision(text: str, decision: Any) -> str:
    """`text` with its pending line replaced by the decision (appended if it has none)."""
    if PENDING in text:
        return text.replace(PENDING, decision_text(decision))
    return f"{text}\n\n{decision_text(decision)}"


CITATION = (
    'Derczynski, Bontcheva, Roberts. "Broad Twitter Corpus: A Diverse Named Entity '
    'Recognition Resource". COLING 2016, pp. 1169-1179.'
)


#: What a model card says about the training tags' @-mention convention (data.mention_convention).
MENTION_NOTES = {
    "mention-o": "Training tagged every `@` before an entity `O`; at prediction each `@` takes\n"
    "the type of the entity its user name starts, as validation and test are tagged.",
    "mention-entity": "Training tagged every `@` before an entity as an entity of that type\n"
    "(section B's `@` relabelled), as validation and test are tagged.",
    "decode": "Training used the tags as each file gives them; at prediction each `@` takes\n"
    "the type of the entity its user name starts.",
    "as-labelled": "Training used the tags as each file gives them, @-mentions included.",
}


def model_card(
    config: RunConfig, manifest: Manifest, report: EvaluationReport, meta: TrainingMeta
) -> str:
    """Markdown: base model, data and licence, scores per type, intended use, known limits."""
    table = markdown_scores(report.splits)
    base = config.model.base_model
    uncased = " (MiniLM-L6-H384, uncased)" if base == DEFAULT_BASE_MODEL else ""
    sizes = manifest.splits
    train = ", ".join(e.name for e in manifest.sources if e.split == "train")
    commit = (manifest.btc_commit or "")[:12]
    data = (
        f"Broad Twitter Corpus, commit `{commit}` ({manifest.description}):"
        f" train = {train}; validation = section H, test = section F"
        if manifest.source == "btc"
        else f"{manifest.description} (train = {train})"
    )
    return f"""# NER model: PER, ORG, LOC in tweets

Fine-tuned by nerflow from `{base}`{uncased} on {meta.device} ({meta.precision}).

## Data
{data}; {sizes["train"]} / {sizes["validation"]} / {sizes["test"]} tweets
(data fingerprint `{manifest.fingerprint}`). The Broad Twitter Corpus is licensed
CC BY 4.0; cite: {CITATION}

## Training
Full fine-tune unless noted: train_last_layers = {config.model.train_last_layers};
epochs {config.training.epochs}, learning rate {config.training.learning_rate}, batch
{config.training.batch_size}, seed {config.training.seed}, max length {config.data.max_length}
sub-words. The epoch with the best validation entity F1 was kept.
{MENTION_NOTES[manifest.mention_convention]}

## Scores (entity level, seqeval, per word)
{table}

## Intended use
Tagging people, organisations and locations in English tweets and similar short, informal
text. Raw text is split like the corpus (URLs and #hashtags whole, "@" apart from the
user name, contractions split, punctuation on its own) before tagging.

## Known limits
- Three entity types only (PER, ORG, LOC); no MISC, products, events or dates.
- Tweets from 2009-2014, mostly UK and US English: newer names, other dialects and other
  languages score lower.
- The default base model is uncased: capitalisation, a strong cue for names, is not seen.
- The corpus tags the `@` of @mentions two ways (section B mostly `O`, sections E-H as an
  entity of the mention's type); the scores count each tagged `@` as an entity of its own
  (the `names` row leaves those out).
- Texts longer than {config.data.max_length} sub-words are cut; words past the cut get no entity.
"""
