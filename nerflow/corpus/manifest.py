"""The dataset manifest: what made each split, and the fingerprints steps key on."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from nerflow.cache import content_key
from nerflow.config import MentionConvention

#: Written beside the saved dataset: sources, files, counts, the data version.
MANIFEST = "manifest.json"


class SourceEntry(BaseModel):
    """One file or hub split that fed a split: where it is, its checksums and its counts."""

    split: str
    origin: str
    name: str
    path: str | None = None  # files only
    sha256: str | None = None  # files only: the bytes
    content_sha256: str | None = None  # files only: what the reader read
    revision: str | None = None  # hub datasets only
    tweets: int
    entities: dict[str, int]


class Manifest(BaseModel):
    """What made a dataset: its sources, split sizes and the data version."""

    source: Literal["btc", "hub", "conll"]
    hub_id: str | None
    btc_commit: str | None
    btc_train_sections: list[str] | None
    mention_convention: MentionConvention
    sources: list[SourceEntry]
    splits: dict[str, int]
    split_fingerprints: dict[str, str]
    fingerprint: str
    description: str

    def eval_fingerprint(self) -> str:
        """The content of the validation and test splits alone (what evaluation reads)."""
        return content_key(self.split_fingerprints["validation"], self.split_fingerprints["test"])

    def train_files(self) -> set[str]:
        """Content SHA-256 of every file that made the training split."""
        return {
            entry.content_sha256
            for entry in self.sources
            if entry.split == "train" and entry.content_sha256 is not None
        }


def read_manifest(dataset_dir: Path) -> Manifest:
    """The manifest of a dataset folder written by the dataset step."""
    return Manifest.model_validate_json((dataset_dir / MANIFEST).read_text(encoding="utf-8"))
