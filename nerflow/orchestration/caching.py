"""Prefect's side of the step cache: steps are tasks without Prefect cache records (nothing in
$PREFECT_HOME can go stale), shown `Cached` when `nerflow.cache` reused their folders."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, Completed

from nerflow.cache import StepStopped, watch_outputs
from nerflow.orchestration.locks import install_shared_locks
from nerflow.step_code import StepCode

P = ParamSpec("P")
R = TypeVar("R")


class _StepTask(Task[P, R]):
    """A task whose call returns its result even when the run ended in a named state."""

    #: The code its output follows (`nerflow.step_code.StepCode`): what its key hashes.
    code: StepCode

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task; a `Cached` run gives its result like a computed one, a `Stopped` one
        raises the reason it was stopped."""
        state = super().__call__(*args, return_state=True, **kwargs)
        if state.is_cancelled() and isinstance(state.data, StepStopped):
            raise state.data
        return state.result()


def cached_task(fn: Callable[P, R], code: StepCode, **options: Any) -> Task[P, R]:
    """Wrap a step function whose output folder is its cache (keyed on `code`) as a task."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        _start_step()
        with watch_outputs() as produced:
            try:
                result = fn(*args, **kwargs)
            except StepStopped as exc:
                # Stopped on purpose (a pruned trial): not a failure in the run's history.
                return Cancelled(name="Stopped", data=exc, message=str(exc))
        if produced and all(output.reused for output in produced):
            return Completed(name="Cached", data=result, message="output already complete")
        return result

    step = _StepTask(run, cache_policy=NO_CACHE, **options)
    step.code = code
    return cast("Task[P, R]", step)


def uncached_task(fn: Callable[P, R], **options: Any) -> Task[P, R]:
    """Wrap a plain function as a Prefect task that always runs (it talks to outside state)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        _start_step()
        return fn(*args, **kwargs)

    return cast("Task[P, R]", task(cache_policy=NO_CACHE, **options)(run))


def _start_step() -> None:
    # nerflow's INFO messages reach the run's log (Prefect attaches its API handler to the
    # `nerflow` logger, PREFECT_LOGGING_EXTRA_LOGGERS), unless the user set another level;
    # locks are shared where a Prefect server is configured, in a worker's process too.
    project = logging.getLogger("nerflow")
    if project.level == logging.NOTSET:
        project.setLevel(logging.INFO)
    install_shared_locks()


def only_network_errors(task: Any, run: Any, state: Any) -> bool:
    """Retry a step only when it failed to reach the network (a bad file fails every time)."""
    try:
        state.result()
    except ConnectionError:
        return True
    except BaseException:
        return False
    return False
