"""The dataset manifest: what made each split, and the fingerprints steps key on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nerflow.outputs import content_key

#: Written beside the saved dataset: sources, files, counts, the data version.
MANIFEST = "manifest.json"


def read_manifest(dataset_dir: Path) -> dict[str, Any]:
    """The manifest of a dataset folder written by the dataset step."""
    manifest: dict[str, Any] = json.loads((dataset_dir / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def eval_fingerprint(manifest: dict[str, Any]) -> str:
    """The content of the validation and test splits alone (what evaluation reads)."""
    fingerprints = manifest["split_fingerprints"]
    return content_key(fingerprints["validation"], fingerprints["test"])


def train_files(manifest: dict[str, Any]) -> set[str]:
    """Content SHA-256 of every file that made the training split."""
    return {
        entry["content_sha256"]
        for entry in manifest.get("sources", [])
        if entry["split"] == "train" and "content_sha256" in entry
    }
