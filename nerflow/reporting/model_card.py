"""The model card (README.md) that travels with every logged model."""

from __future__ import annotations

from typing import Any

from nerflow.config import DEFAULT_BASE_MODEL, RunConfig
from nerflow.reporting.tables import SCORE_COLUMNS, render, score_rows

CITATION = (
    'Derczynski, Bontcheva, Roberts. "Broad Twitter Corpus: A Diverse Named Entity '
    'Recognition Resource". COLING 2016, pp. 1169-1179.'
)


def model_card(
    config: RunConfig, manifest: dict[str, Any], report: dict[str, Any], meta: dict[str, Any]
) -> str:
    """Markdown: base model, data and licence, scores per type, intended use, known limits."""
    splits = {split: report["splits"][split] for split in ("validation", "test")}
    table = render(score_rows(splits), SCORE_COLUMNS, style="markdown")
    base = config.model.base_model
    uncased = " (MiniLM-L6-H384, uncased)" if base == DEFAULT_BASE_MODEL else ""
    sizes = manifest["splits"]
    train = ", ".join(e["name"] for e in manifest["sources"] if e["split"] == "train")
    data = (
        f"Broad Twitter Corpus, commit `{manifest['btc_commit'][:12]}` ({manifest['description']}):"
        f" train = {train}; validation = section H, test = section F"
        if manifest["source"] == "btc"
        else f"{manifest['description']} (train = {train})"
    )
    return f"""# NER model: PER, ORG, LOC in tweets

Fine-tuned by nerflow from `{base}`{uncased} on {meta["device"]} ({meta["precision"]}).

## Data
{data}; {sizes["train"]} / {sizes["validation"]} / {sizes["test"]} tweets
(data fingerprint `{manifest["fingerprint"]}`). The Broad Twitter Corpus is licensed
CC BY 4.0; cite: {CITATION}

## Training
Full fine-tune unless noted: train_last_layers = {config.model.train_last_layers};
epochs {config.training.epochs}, learning rate {config.training.learning_rate}, batch
{config.training.batch_size}, seed {config.training.seed}, max length {config.data.max_length}
sub-words. The epoch with the best validation entity F1 was kept.

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
- The corpus annotates @mentions inconsistently across sections; predictions on @mentions
  are the least reliable.
- Texts longer than {config.data.max_length} sub-words are cut; words past the cut get no entity.
"""
