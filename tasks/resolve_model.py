"""Step: the registry alias a tagging job uses, resolved to one version for the whole run."""

from __future__ import annotations

import logging

from nerflow.config import TrackingConfig
from nerflow.orchestration.caching import uncached_task
from nerflow.tracking.tagging import RegisteredVersion, resolve_alias

logger = logging.getLogger(__name__)


def resolve_model(tracking: TrackingConfig, alias: str) -> RegisteredVersion:
    """The version `alias` names now: every chunk of this run is tagged by it."""
    found = resolve_alias(tracking.tracking_uri, tracking.registered_model, alias)
    logger.info(
        "tagging with %s v%s (alias %s at %s)", found.name, found.version, alias,
        found.tracking_uri,
    )  # fmt: skip
    return found


resolve_model_task = uncached_task(resolve_model, name="resolve-model")
