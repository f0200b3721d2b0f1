"""A flow command's own process: Prefect's settings, nothing it starts outlives it, a SIGTERM
always stops its run, running out of memory ends it at once, and a failure is told once."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, NoReturn
from unittest import mock

#: prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1
#: How running out of memory reads when it is no MemoryError: a thread that cannot start, a
#: shared library that cannot be mapped (a late import of torch), a refused system call, an
#: extension module whose allocation failed without setting MemoryError (SystemError).
_OUT_OF_MEMORY = (
    "can't start new thread",
    "failed to map segment",
    "Cannot allocate memory",
    "error return without exception set",
)
#: The read end of the pipe the kernel-level signal handler writes each signal's number to.
_arrived: int | None = None
_terminated = False
#: The flow run this process runs now (`remember_flow_run`), to mark it Failed on the way out.
_flow_run_id: Any = None


#: The Prefect settings nerflow's commands run with, unless the user set them already.
PREFECT_DEFAULTS = {
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
    """Add the defaults to `env` (this process's when None; before Prefect is imported)."""
    target: dict[str, str] = os.environ if env is None else env  # type: ignore[assignment]
    for name, value in PREFECT_DEFAULTS.items():
        target.setdefault(name, value)
    return target


_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
#: A hook of the commands' own (`remember_flow_run`): Prefect logs each call of it.
_QUIET_HOOK = "'remember_flow_run'"


def _not_a_run_traceback(record: logging.LogRecord) -> bool:
    """False for a run's traceback or failed-state line (the API keeps them), else True."""
    message = record.getMessage()
    if _QUIET_HOOK in message:
        return False
    if not record.name.startswith(_RUN_LOGGERS):
        return True
    failed = message.startswith(("Finished in state Failed", "Encountered"))
    return not (record.exc_info or failed)


@contextmanager
def tracebacks_to_run_logs_only() -> Iterator[None]:
    """Inside the block, a failing task or flow run's traceback reaches Prefect's run log, not
    stderr: Prefect logs it once per task run, retry and flow run; the caller says it once."""
    import prefect  # noqa: F401 - configures Prefect's handlers, which get the filter

    handlers = [
        handler
        for name in ("prefect", None)  # Prefect's console, and the root logger's handlers
        for handler in logging.getLogger(name).handlers
        if not type(handler).__name__.startswith("APILog")
    ]
    for handler in handlers:
        handler.addFilter(_not_a_run_traceback)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(_not_a_run_traceback)


def start_temporary_server() -> None:
    """Start Prefect's temporary server now (unless one is configured), so that the kernel
    stops it when this process dies, even by SIGKILL; call from the main thread."""
    # Started by Prefect on first use, nothing tied it to this process: a killed command left
    # it running. The kernel counts the thread that started it as its parent.
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or sys.platform != "linux":
        return

    class TemporaryServer(SubprocessASGIServer):
        """Prefect's temporary server, started with the parent-death signal set."""

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect builds the server's command and environment; only the start differs.
            popen = partial(subprocess.Popen, preexec_fn=_parent_death_signal(os.getpid()))
            with mock.patch.object(subprocess, "Popen", popen):
                return super()._run_uvicorn_command()

    # Prefect keeps one server per port: its own later lookups find this one, started.
    TemporaryServer().start()


def _parent_death_signal(parent: int) -> Any:
    """A `preexec_fn` that has the child SIGTERMed when `parent` dies."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


@contextmanager
def out_of_memory_stops_at_once() -> Iterator[None]:
    """Inside the block, running out of memory in any thread ends the process at once with
    one line."""
    # Else a thread that could not start left the one waiting for it hanging (the command
    # never ended), and every layer that caught the error printed its traceback.
    thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook
    logging_error = logging.Handler.handleError

    def on_thread_error(args: threading.ExceptHookArgs) -> None:
        _stop_if_out_of_memory(args.exc_value)
        thread_hook(args)

    def on_unraisable(unraisable: Any) -> None:  # e.g. a thread that failed as it started
        _stop_if_out_of_memory(unraisable.exc_value)
        unraisable_hook(unraisable)

    def on_logging_error(self: logging.Handler, record: logging.LogRecord) -> None:
        _stop_if_out_of_memory(sys.exc_info()[1])  # Prefect's log handler starts a thread
        logging_error(self, record)

    threading.excepthook, sys.unraisablehook = on_thread_error, on_unraisable
    logging.Handler.handleError = on_logging_error  # type: ignore[method-assign]
    try:
        yield
    except BaseException as exc:
        _stop_if_out_of_memory(exc)
        raise
    finally:
        threading.excepthook, sys.unraisablehook = thread_hook, unraisable_hook
        logging.Handler.handleError = logging_error  # type: ignore[method-assign]


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether `exc`, or what caused it, is the process running out of memory."""
    while exc is not None:
        if isinstance(exc, MemoryError) or (
            isinstance(exc, RuntimeError | OSError | ImportError | SystemError)
            and any(sign in str(exc) for sign in _OUT_OF_MEMORY)
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _stop_if_out_of_memory(exc: BaseException | None) -> None:
    if is_out_of_memory(exc):
        stop_out_of_memory(exc)


def stop_out_of_memory(exc: BaseException | None) -> NoReturn:
    """Print one line, mark the flow run Failed and end the process now: unwinding, and
    Prefect's own failure handling, need memory (threads) they may not get."""
    what = f"{type(exc).__name__}: {exc}" if exc is not None and str(exc) else "MemoryError"
    message = f"out of memory ({what}); the run was stopped, nothing was registered"
    with suppress(OSError):
        os.write(2, f"error: {message}\n".encode())
    if _flow_run_id is not None:
        with suppress(BaseException):
            from prefect import get_client
            from prefect.states import Failed

            with get_client(sync_client=True, httpx_settings={"timeout": 10}) as client:
                client.set_flow_run_state(_flow_run_id, Failed(message=message), force=True)
    os._exit(1)


def remember_flow_run(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect `on_running` hook: note the flow run, so that `stop_out_of_memory` can end it."""
    global _flow_run_id
    _flow_run_id = flow_run.id


def note_signals() -> None:
    """Have every handled signal's arrival noted below Python (call from the main thread), so
    that `raise_if_terminated` sees a SIGTERM whose exception some code swallowed."""
    global _arrived
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    _arrived = read


def raise_if_terminated() -> None:
    """Raise Prefect's termination signal if SIGTERM arrived since `note_signals`."""
    # A signal handler's exception raised while a finalizer or a library's catch-all runs is
    # dropped: the run went on and registered a model after a SIGTERM.
    from prefect.exceptions import TerminationSignal

    global _terminated
    if _arrived is not None:
        with suppress(BlockingIOError):
            _terminated |= signal.SIGTERM in os.read(_arrived, 4096)
    if _terminated:
        raise TerminationSignal(signal=signal.SIGTERM)


def end_open_mlflow_runs(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect `on_crashed` hook: end the MLflow runs this process left open KILLED, with why
    (a training's run stays open until the logging step completes it)."""
    from nerflow.config import TrackingConfig
    from nerflow.tracking.provenance import end_own_runs
    from nerflow.tracking.store import resolve_tracking_uri

    tracking = TrackingConfig.model_validate(flow_run.parameters.get("tracking") or {})
    uri, _ = resolve_tracking_uri(tracking.tracking_uri)
    end_own_runs(uri, tracking.experiment, f"prefect flow run {flow_run.id}: {state.message}")
