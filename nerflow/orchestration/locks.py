"""Locks that span machines: a Prefect server's global concurrency limit of one slot, held
under a lease (a killed holder stops renewing it), else `nerflow.locks`' file locks.

Apart from `nerflow.locks` because the library imports no Prefect, and from `caching`
because every command installs these before Prefect may be imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nerflow.locks import use_shared_locks

logger = logging.getLogger(__name__)

#: How long a slot outlives its holder's last renewal (the holder renews well before); 60 s
#: is the least the server accepts.
LEASE_SECONDS = 60.0


def server_configured() -> bool:
    """True when Prefect talks to a server of its own (not a temporary one per process)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def install_shared_locks() -> None:
    """Make `nerflow.locks.named_lock` a global concurrency limit whenever a server is
    configured at the time of locking (decided per lock: settings can change in a process)."""
    use_shared_locks(concurrency_slot, active=server_configured)


@contextmanager
def concurrency_slot(name: str, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the only slot of global concurrency limit `name` (created if missing) for the block."""
    from prefect.concurrency.sync import concurrency

    _ensure_limit(name)
    logger.debug("acquiring %s (global concurrency limit %s)", what, name)
    try:
        with concurrency(
            name, occupy=1, timeout_seconds=timeout, lease_duration=LEASE_SECONDS, strict=True
        ):
            yield
    except TimeoutError as exc:
        raise TimeoutError(
            f"{what} stayed locked for {timeout:.0f} s (global concurrency limit {name!r})"
        ) from exc


def _ensure_limit(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another worker may create it first: the same limit, so that is fine.
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
