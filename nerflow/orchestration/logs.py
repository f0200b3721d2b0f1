"""Where a failure's traceback goes: the Prefect run's log, not the user's terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
#: A hook of the commands' own (`nerflow.orchestration.process`): Prefect logs each call of it.
_QUIET_HOOK = "'remember_flow_run'"


class _NoRunTracebacks(logging.Filter):
    """Drops the run loggers' records that repeat a failure's cause (the API keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a run's traceback or failed-state line, True for everything else."""
        message = record.getMessage()
        if _QUIET_HOOK in message:
            return False
        if not record.name.startswith(_RUN_LOGGERS):
            return True
        failed = message.startswith(("Finished in state Failed", "Encountered"))
        return not (record.exc_info or failed)


@contextmanager
def tracebacks_to_run_logs_only() -> Iterator[None]:
    """Inside the block, a failing task or flow run's traceback reaches Prefect, not stderr.

    Prefect logs the same exception once per task run, retry and flow run; the caller
    reports the cause once instead. The flow run's log in Prefect keeps every traceback.
    """
    import prefect  # noqa: F401 - configures Prefect's handlers, which get the filter

    quiet = _NoRunTracebacks()
    handlers = [
        handler
        for name in ("prefect", None)  # Prefect's console, and the root logger's handlers
        for handler in logging.getLogger(name).handlers
        if not type(handler).__name__.startswith("APILog")
    ]
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
