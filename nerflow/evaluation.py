"""Score a fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk
from seqeval.metrics import classification_report as seqeval_report
from seqeval.metrics.sequence_labeling import get_entities

from nerflow.corpus.conll import Sentence, read_conll
from nerflow.corpus.labels import (
    BIOES_ONLY,
    ENTITY_TYPES,
    LABELS,
    Scheme,
    SchemeChoice,
    suggest_label_map,
    to_btc_tags,
)
from nerflow.corpus.sources import CONLL_SUFFIXES
from nerflow.inference.predict import EntityPredictor, load_model, predict_word_tags
from nerflow.metrics.scores import entity_strings, score_entities

REPORT = "report.json"

logger = logging.getLogger(__name__)


def write_report(model_dir: Path, dataset_dir: Path, max_length: int, out: Path) -> None:
    """Write a JSON report of entity-level scores on validation and test into `out`."""
    splits = load_from_disk(str(dataset_dir / "dataset"))
    tokenizer, network = load_model(model_dir)
    report: dict[str, Any] = {"max_length": max_length, "scored_per": "word", "splits": {}}
    for split in ("validation", "test"):
        ds: Dataset = splits[split]
        names = ds.features["ner_tags"].feature.names
        gold = [[names[t] for t in tags] for tags in ds["ner_tags"]]
        predicted, _ = predict_word_tags(tokenizer, network, ds["tokens"], max_length)
        scores = score_entities(gold, predicted)
        scores["tweets"] = len(ds)
        scores["report_text"] = seqeval_report(gold, predicted, digits=4, zero_division=0)
        report["splits"][split] = scores
        report.setdefault("predictions", {})[split] = predicted
        if split == "validation":
            report["validation_samples"] = sample_predictions(
                ds["id"], ds["tokens"], gold, predicted
            )
    report["labels"] = list(LABELS)
    (out / REPORT).write_text(json.dumps(report), encoding="utf-8")


def write_file_report(model_dir: Path, path: Path, max_length: int, out: Path) -> None:
    """Write the entity scores of a model on one labelled CoNLL file into `out`."""
    sentences = read_conll(path)
    tokenizer, network = load_model(model_dir)
    predicted, _ = predict_word_tags(tokenizer, network, [s.tokens for s in sentences], max_length)
    scores = score_entities([s.tags for s in sentences], predicted)
    scores["tweets"] = len(sentences)
    (out / REPORT).write_text(json.dumps(scores), encoding="utf-8")


def sample_predictions(
    ids: list[str],
    tokens: list[list[str]],
    gold: list[list[str]],
    predicted: list[list[str]],
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Tweets with their gold and predicted entities, those with the most wrong words first."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for sid, words, g, p in zip(ids, tokens, gold, predicted, strict=True):
        wrong = sum(a != b for a, b in zip(g, p, strict=True))
        rows.append(
            (
                wrong,
                {
                    "id": sid,
                    "text": " ".join(words),
                    "gold": "; ".join(entity_strings(words, g)),
                    "predicted": "; ".join(entity_strings(words, p)),
                    "wrong_words": wrong,
                },
            )
        )
    rows.sort(key=lambda row: -row[0])
    return [row for _, row in rows[:limit]]


def score_conll(
    predictor: EntityPredictor,
    data: Path,
    scheme: SchemeChoice = "auto",
    label_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Score a model on any CoNLL file (or folder of *.conll/*.txt files), per word.

    Gold tags are brought onto IOB2 over PER/ORG/LOC first (`label_map`, `scheme`; `auto`
    reads E-/S- tags as BIOES). Data that contradicts the scheme given, or in which no gold
    entity maps onto PER/ORG/LOC, is refused: it would score wrong without a sign.
    """
    files = (
        sorted(p for p in data.iterdir() if p.suffix in CONLL_SUFFIXES) if data.is_dir() else [data]
    )
    if not files:
        raise FileNotFoundError(f"{data}: no .conll/.txt/.tsv/.bio files to evaluate")
    read = [(path, s) for path in files for s in read_conll(path, labels=None)]
    sentences = [s for _, s in read]
    chosen = resolve_scheme(read, scheme)
    gold = [to_btc_tags(s.tags, chosen, label_map or {}) for s in sentences]
    if not any(tag != "O" for tags in gold for tag in tags):
        types = sorted({t.partition("-")[2] for s in sentences for t in s.tags if t != "O"})
        raise ValueError(
            f"{data}: no gold entity maps onto PER, ORG or LOC (types found: "
            f"{', '.join(types) or 'none'}); give a map, e.g. --label-map "
            f"{suggest_label_map(types) or 'TYPE=PER'}"
        )
    if mismatch := _label_map_mismatch(sentences, chosen, label_map):
        logger.warning("%s: %s", data, mismatch)
    predicted, _ = predict_word_tags(
        predictor.tokenizer,
        predictor.network,
        [s.tokens for s in sentences],
        predictor.max_length,
        predictor.batch_size,
        predictor.aggregation,
    )
    scores = score_entities(gold, predicted)
    scores["tweets"] = len(sentences)
    scores["files"] = [str(p) for p in files]
    scores["scheme"] = chosen
    return scores


def _label_map_mismatch(
    sentences: list[Sentence], scheme: Scheme, label_map: dict[str, str] | None
) -> str:
    # A map written for other data scores without a sign: its types have no support and the
    # data's own are scored as O.
    as_is = {t.partition("-")[2]: t.partition("-")[2] for s in sentences for t in s.tags}
    found = Counter(
        kind for s in sentences for kind, _, _ in get_entities(to_btc_tags(s.tags, scheme, as_is))
    )
    mapping = label_map or {t: t for t in ENTITY_TYPES}
    problems = [
        f"--label-map source {name!r} is not a type in the data"
        for name in label_map or {}
        if name not in found
    ]
    problems += [
        f"{kind} ({n} {'entity' if n == 1 else 'entities'}) is not in the map: scored as O"
        for kind, n in sorted(found.items())
        if kind not in mapping
    ]
    if not problems:
        return ""
    return f"{'; '.join(problems)} (types in the data: {', '.join(sorted(found))})"


def resolve_scheme(read: list[tuple[Path, Sentence]], scheme: SchemeChoice) -> Scheme:
    """The tagging scheme of the data: `auto` detects BIOES; a contradiction is an error."""
    for path, sentence in read:
        for offset, tag in enumerate(sentence.tags):
            if tag.partition("-")[0] in BIOES_ONLY:
                if scheme in ("iob2", "iob1"):
                    raise ValueError(
                        f"{path}:{sentence.line + offset}: tag {tag!r} is BIOES, not "
                        f"{scheme.upper()}: use --scheme bioes (or auto)"
                    )
                return "bioes"
    return "iob2" if scheme == "auto" else scheme


def read_report(report_dir: Path) -> dict[str, Any]:
    """The report `write_report` wrote."""
    return json.loads((report_dir / REPORT).read_text(encoding="utf-8"))
