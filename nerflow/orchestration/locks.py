"""Locks that span machines: Prefect global concurrency limits with a lease.

When the runs talk to a Prefect server (`PREFECT_API_URL` set), every worker of a pool
sees the same server, so a global concurrency limit of one slot there is a lock they all
share. A slot is held under a lease that the holder renews while it works; a holder that
is killed stops renewing, and the server frees the slot when the lease runs out, so a
dead machine cannot block the others for longer than `LEASE_SECONDS`. Without a
configured server (Prefect's temporary one lives and dies with one process) the locks
stay OS file locks (`nerflow.locking`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nerflow.locking import use_shared_locks

logger = logging.getLogger(__name__)

#: How long a slot outlives its holder's last renewal (the holder renews well before); 60 s
#: is the least the server accepts.
LEASE_SECONDS = 60.0


def server_configured() -> bool:
    """True when Prefect talks to a server of its own (not a temporary one per process)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def install_shared_locks() -> None:
    """Make `nerflow.locking.named_lock` a global concurrency limit whenever a server is
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
