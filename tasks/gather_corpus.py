"""Step: gather the corpus, extra sources and incoming files into a saved DatasetDict."""

from __future__ import annotations

from pathlib import Path

from nerflow.cache import content_key, produce
from nerflow.config import DataConfig
from nerflow.corpus.assemble import (
    collect_sources,
    data_fingerprint,
    read_sources,
    split_fingerprints,
    write_dataset,
)
from nerflow.orchestration.caching import cached_task, only_network_errors
from nerflow.step_code import StepCode

CODE = StepCode(
    (
        "nerflow.tasks.gather_corpus",
        "nerflow.corpus",
        "nerflow.inference.mentions",
        "nerflow.config",
    )
)


def gather_corpus(data: DataConfig, work_dir: Path) -> Path:
    """The corpus as a DatasetDict and manifest under `work_dir/datasets/<key>`, keyed on what
    the files hold: a new incoming file makes a new dataset, an unchanged corpus reuses it."""
    read = read_sources(collect_sources(data, work_dir))  # a malformed file stops the run here
    fingerprints = split_fingerprints(read, data.mention_convention)
    key = content_key(data_fingerprint(fingerprints), CODE.version())
    return produce(work_dir / "datasets" / key, lambda out: write_dataset(data, read, out))


# Retried on network errors only: the hub sources (and the BTC fallback download) go online.
gather_corpus_task = cached_task(
    gather_corpus, CODE, name="gather-corpus", retries=2, retry_condition_fn=only_network_errors
)
