"""The Prefect settings nerflow's commands run with, unless the user set them already."""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Without a configured server Prefect starts a temporary one and gives it 20 s; on a
    # busy 2-core machine that start alone has taken longer.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # nerflow's own messages (split sizes, truncated tweets, per-epoch scores, the gate's
    # decision) go to each run's log in Prefect, not only to the terminal.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "nerflow",
    # ...and, outside a run (a plain library call), nowhere but the terminal.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


def apply_prefect_defaults(env: dict[str, str] | None = None) -> dict[str, str]:
    """Add the defaults to `env` (the process's own environment when None); return it.

    Call before Prefect is imported: it reads its settings then.
    """
    target: dict[str, str] = os.environ if env is None else env  # type: ignore[assignment]
    for name, value in DEFAULTS.items():
        target.setdefault(name, value)
    return target
