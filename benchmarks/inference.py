"""Prediction throughput: the per-tweet pipeline against batched predict, per precision."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT_MAX_LENGTH, corpus


def bench_inference(
    btc_dir: Path, work: Path, tweets: int, scored: int | None = None
) -> dict[str, Any]:
    """Per-tweet pipeline against batched predict (fp32 and the default precision).

    All on the model the flow run trained, with the entity F1 each precision scores on the
    validation split (its first `scored` tweets; None: all of it), so a faster precision
    shows what it costs.
    """
    from transformers import pipeline

    from nerflow.inference.predict import EntityPredictor, predict_word_tags
    from nerflow.metrics.scores import score_entities

    folder = _trained_model(work)
    validation = corpus(btc_dir, work)["validation"]
    if scored is not None:
        validation = validation.select(range(min(scored, len(validation))))
    texts = [" ".join(t) for t in validation["tokens"][:tweets]]
    warm_up = [" ".join(t) for t in validation["tokens"][-8:]]
    ner = pipeline("token-classification", model=str(folder), aggregation_strategy="simple")
    for text in warm_up:
        ner(text)
    started = time.perf_counter()
    for text in texts:
        ner(text)
    result: dict[str, Any] = {
        "tweets": len(texts),
        "per_tweet_tweets_per_s": len(texts) / (time.perf_counter() - started),
        "scored_tweets": len(validation),
    }
    names = validation.features["ner_tags"].feature.names
    gold = [[names[t] for t in tags] for tags in validation["ner_tags"]]
    for precision in ("fp32", "auto"):
        predictor = EntityPredictor(folder, PROJECT_MAX_LENGTH, precision=precision)
        predictor.predict(warm_up)
        started = time.perf_counter()
        predictor.predict(texts)
        tweets_per_s = len(texts) / (time.perf_counter() - started)
        predicted, _ = predict_word_tags(
            predictor.tokenizer, predictor.network, validation["tokens"], PROJECT_MAX_LENGTH
        )
        key = "fp32" if precision == "fp32" else "default"
        result[f"batched_{key}_tweets_per_s"] = tweets_per_s
        result[f"f1_{key}"] = score_entities(gold, predicted)["f1"]
        result[f"{key}_dtype"] = str(predictor.network.dtype).removeprefix("torch.")
    result["batched_tweets_per_s"] = result["batched_default_tweets_per_s"]
    return result


def _trained_model(work: Path) -> Path:
    """The model folder the benchmark's flow run saved."""
    found = [p for p in (work / "flow" / "models").iterdir() if (p / "config.json").exists()]
    if len(found) != 1:
        raise RuntimeError(f"{work / 'flow' / 'models'}: expected one trained model, found {found}")
    return found[0]
