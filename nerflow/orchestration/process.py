"""A flow command's own process: nothing it starts outlives it, a SIGTERM always stops its run,
and running out of memory ends it at once, with one line."""

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
#: shared library that cannot be mapped (a late import of torch), a refused system call.
_OUT_OF_MEMORY = ("can't start new thread", "failed to map segment", "Cannot allocate memory")
#: The read end of the pipe the kernel-level signal handler writes each signal's number to.
_arrived: int | None = None
_terminated = False
#: The flow run this process runs now (`remember_flow_run`), to mark it Failed on the way out.
_flow_run_id: Any = None


def start_temporary_server() -> None:
    """Start Prefect's temporary server now, unless a server is configured, so that the kernel
    stops it when this process dies, even by SIGKILL.

    Prefect starts the server itself on first use otherwise, with nothing tying it to this
    process: a killed command left it running. Call from the main thread: the kernel counts
    the thread that started the server as its parent.
    """
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
    one line.

    Without this a thread that could not start left the thread waiting for it hanging (the
    command never ended), and every layer that caught the error printed its traceback.
    """
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
            isinstance(exc, RuntimeError | OSError | ImportError)
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
    """Raise Prefect's termination signal if SIGTERM arrived since `note_signals`.

    A signal handler's exception raised while a finalizer or a library's catch-all runs is
    dropped: the run went on and registered a model after a SIGTERM.
    """
    from prefect.exceptions import TerminationSignal

    global _terminated
    if _arrived is not None:
        with suppress(BlockingIOError):
            _terminated |= signal.SIGTERM in os.read(_arrived, 4096)
    if _terminated:
        raise TerminationSignal(signal=signal.SIGTERM)


def end_open_mlflow_runs(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect `on_crashed` hook: end the MLflow runs this process left open KILLED, with why.

    A training's run stays open until the logging step completes it; a run stopped between
    the two (SIGTERM during evaluation) otherwise showed RUNNING until the next run.
    """
    from nerflow.config import TrackingConfig
    from nerflow.tracking.provenance import end_own_runs
    from nerflow.tracking.store import resolve_tracking_uri

    tracking = TrackingConfig.model_validate(flow_run.parameters.get("tracking") or {})
    uri, _ = resolve_tracking_uri(tracking.tracking_uri)
    end_own_runs(uri, tracking.experiment, f"prefect flow run {flow_run.id}: {state.message}")
