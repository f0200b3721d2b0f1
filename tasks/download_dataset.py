"""Step: fetch the configured corpus into a saved DatasetDict (cached on the files' content)."""

from __future__ import annotations

from pathlib import Path

from nerflow.config import DataConfig
from nerflow.corpus.sources import content_checksums, data_fingerprint, source_files, write_corpus
from nerflow.orchestration.caching import cached_task
from nerflow.outputs import code_version, content_key, produce


def download_dataset(data: DataConfig, work_dir: Path) -> Path:
    """The corpus as a DatasetDict and manifest under `work_dir/datasets/<key>`."""
    files = source_files(data, work_dir)
    checksums = content_checksums(files)  # what is read, not the bytes: CRLF is no change
    key = content_key(data_fingerprint(data, checksums), code_version(download_dataset))
    return produce(
        work_dir / "datasets" / key, lambda out: write_corpus(data, files, checksums, out)
    )


download_dataset_task = cached_task(download_dataset, name="download-dataset", retries=2)
