"""Step: gather the corpus, extra sources and incoming files into a saved DatasetDict.

Cached on what the files hold: a scheduled run with no new file reuses it; a new file
in the incoming folder makes a new dataset (and so a new model).
"""

from __future__ import annotations

from pathlib import Path

from nerflow.config import DataConfig
from nerflow.corpus.assemble import (
    collect_sources,
    data_fingerprint,
    read_sources,
    split_fingerprints,
    write_dataset,
)
from nerflow.orchestration.caching import cached_task, only_network_errors
from nerflow.outputs import content_key, produce
from nerflow.step_code import StepCode

#: The code this step's output follows: its key hashes exactly these (see StepCode).
CODE = StepCode(("nerflow.tasks.download_dataset", "nerflow.corpus", "nerflow.config"))


def download_dataset(data: DataConfig, work_dir: Path) -> Path:
    """The corpus as a DatasetDict and manifest under `work_dir/datasets/<key>`."""
    read = read_sources(collect_sources(data, work_dir))  # a malformed file stops the run here
    version = data_fingerprint(split_fingerprints(read))
    key = content_key(version, CODE.version())
    return produce(work_dir / "datasets" / key, lambda out: write_dataset(data, read, out))


download_dataset_task = cached_task(
    download_dataset,
    CODE,
    name="download-dataset",
    retries=2,
    retry_condition_fn=only_network_errors,
)
