"""Score a fine-tuned model per word on the validation and test splits."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from seqeval.metrics.sequence_labeling import get_entities

from nerflow.corpus.conll import Sentence, read_conll
from nerflow.corpus.conventions import without_bare_mentions
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
from nerflow.metrics.scores import entity_strings, score_entities

if TYPE_CHECKING:
    from nerflow.inference.predict import EntityPredictor

REPORT = "report.json"
SPLITS = ("validation", "test")

logger = logging.getLogger(__name__)


class TypeScores(BaseModel):
    """Entity precision, recall and F1 of one type, and its gold entities."""

    precision: float
    recall: float
    f1: float
    support: int


class Confusion(BaseModel):
    """Word counts of gold entity type (rows) against predicted type (columns), O included."""

    labels: list[str]
    matrix: list[list[int]]


class Scores(TypeScores):
    """A model's entity scores on some tweets (micro, macro, per type), from `score_entities`."""

    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_type: dict[str, TypeScores]
    token_weighted_f1: float
    words: int
    confusion: Confusion
    tweets: int
    names: TypeScores | None = None
    """micro scores with every bare `@` entity left out of gold and prediction: the model on
    names (None where the words were not at hand)"""


class SplitReport(Scores):
    """The scores of one split, with seqeval's classification report as text."""

    report_text: str


class SamplePrediction(BaseModel):
    """A tweet with its gold and predicted entities, and how many of its words are wrong."""

    id: str
    text: str
    gold: str
    predicted: str
    wrong_words: int


class EvaluationReport(BaseModel):
    """What `write_report` writes: scores, predicted tags and samples on validation and test."""

    max_length: int
    scored_per: str = "word"
    splits: dict[str, SplitReport]
    predictions: dict[str, list[list[str]]]
    validation_samples: list[SamplePrediction]
    labels: list[str] = list(LABELS)


class ConllScores(Scores):
    """The scores of `score_conll`, with the files scored and the tagging scheme read."""

    files: list[str]
    scheme: Scheme


def _scores(
    gold: list[list[str]], predicted: list[list[str]], words: list[list[str]]
) -> dict[str, Any]:
    on_names = score_entities(
        [without_bare_mentions(w, g) for w, g in zip(words, gold, strict=True)],
        [without_bare_mentions(w, p) for w, p in zip(words, predicted, strict=True)],
    )
    names = {key: on_names[key] for key in TypeScores.model_fields}
    return {**score_entities(gold, predicted), "tweets": len(gold), "names": names}


def write_report(model_dir: Path, dataset_dir: Path, max_length: int, out: Path) -> None:
    """Write a JSON report of entity-level scores on validation and test into `out`."""
    # Here, not at the top: reading a report must not import torch.
    from datasets import load_from_disk
    from seqeval.metrics import classification_report

    from nerflow.inference.predict import load_model, predict_word_tags

    splits = load_from_disk(str(dataset_dir / "dataset"))
    tokenizer, network = load_model(model_dir)
    scored, predictions = {}, {}
    for split in SPLITS:
        ds = splits[split]
        names = ds.features["ner_tags"].feature.names
        gold = [[names[t] for t in tags] for tags in ds["ner_tags"]]
        predictions[split], _ = predict_word_tags(tokenizer, network, ds["tokens"], max_length)
        text = classification_report(gold, predictions[split], digits=4, zero_division=0)
        scored[split] = SplitReport(
            **_scores(gold, predictions[split], ds["tokens"]), report_text=text
        )
        if split == "validation":
            samples = sample_predictions(ds["id"], ds["tokens"], gold, predictions[split])
    report = EvaluationReport(
        max_length=max_length, splits=scored, predictions=predictions, validation_samples=samples
    )
    (out / REPORT).write_text(report.model_dump_json(), encoding="utf-8")


def write_file_report(model_dir: Path, path: Path, max_length: int, out: Path) -> None:
    """Write the entity scores of a model on one labelled CoNLL file into `out`."""
    from nerflow.inference.predict import load_model, predict_word_tags

    sentences = read_conll(path)
    tokenizer, network = load_model(model_dir)
    words = [s.tokens for s in sentences]
    predicted, _ = predict_word_tags(tokenizer, network, words, max_length)
    scores = Scores(**_scores([s.tags for s in sentences], predicted, words))
    (out / REPORT).write_text(scores.model_dump_json(), encoding="utf-8")


def sample_predictions(
    ids: list[str],
    tokens: list[list[str]],
    gold: list[list[str]],
    predicted: list[list[str]],
    limit: int = 200,
) -> list[SamplePrediction]:
    """Tweets with their gold and predicted entities, those with the most wrong words first."""
    rows = [
        SamplePrediction(
            id=sid,
            text=" ".join(words),
            gold="; ".join(entity_strings(words, g)),
            predicted="; ".join(entity_strings(words, p)),
            wrong_words=sum(a != b for a, b in zip(g, p, strict=True)),
        )
        for sid, words, g, p in zip(ids, tokens, gold, predicted, strict=True)
    ]
    rows.sort(key=lambda row: -row.wrong_words)
    return rows[:limit]


def score_conll(
    predictor: EntityPredictor,
    data: Path,
    scheme: SchemeChoice = "auto",
    label_map: dict[str, str] | None = None,
) -> ConllScores:
    """Score a model per word on a CoNLL file or folder, gold tags mapped onto IOB2 first."""
    from nerflow.inference.predict import predict_word_tags

    # Data that contradicts the scheme, or with no entity of ours, would score wrong silently.
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
    scored = _scores(gold, predicted, [s.tokens for s in sentences])
    return ConllScores(**scored, files=[str(p) for p in files], scheme=chosen)


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


def read_report(report_dir: Path) -> EvaluationReport:
    """The report `write_report` wrote."""
    return EvaluationReport.model_validate_json((report_dir / REPORT).read_text(encoding="utf-8"))


def read_file_report(report_dir: Path) -> Scores:
    """The scores `write_file_report` wrote."""
    return Scores.model_validate_json((report_dir / REPORT).read_text(encoding="utf-8"))
