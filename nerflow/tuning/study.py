"""The Optuna study: where it lives, how it is opened, resumed and run to its trial count.

A study is a row set in a database (Optuna's RDB storage): every process that opens the same
name at the same URL adds trials to the same study, which is Optuna's documented way to run
trials on many workers, and a killed process leaves the study to be resumed.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nerflow.tuning.config import TuneConfig

logger = logging.getLogger(__name__)

#: Trials that count toward the study's size.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: A failed trial's copy is marked with the number it retries.
RETRY_OF = "retry_of"
#: A study stops when this many of its trials fail one after another in one process.
MAX_FAILURES_IN_A_ROW = 3


def storage_url(tune: TuneConfig, tracking_uri: str) -> str:
    """The study's database: as configured, else optuna.db beside a SQLite MLflow store."""
    if tune.storage:
        return tune.storage
    if tracking_uri.startswith("sqlite:///"):
        folder = Path(tracking_uri.removeprefix("sqlite:///")).parent
    else:
        folder = Path.cwd() / "mlruns"
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'optuna.db'}"


def open_study(tune: TuneConfig, url: str) -> optuna.Study:
    """Create the study, or load it to resume (maximising validation entity F1).

    Heartbeats let any worker see that a trial's process died (its trial is marked failed
    after a few minutes without one); `requeue_failed` then gives it another go.
    """
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    return optuna.create_study(
        storage=storage,
        study_name=tune.study,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=tune.sampler_seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=tune.startup_trials, n_warmup_steps=tune.warmup_evaluations
        ),
        load_if_exists=True,
    )


def finished(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that count: complete or pruned."""
    return study.get_trials(deepcopy=False, states=FINISHED)


def requeue_failed(study: optuna.Study) -> list[int]:
    """Queue once more, with the same values, each failed trial not already retried (a Ctrl-C,
    a killed worker: its training resumes from its checkpoints). Returns their numbers.

    A trial whose process died without a word (kill -9, a lost machine) is still RUNNING
    with no heartbeat after the grace period: it is marked failed first, and so queued too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    again = []
    for trial in trials:
        if trial.state == TrialState.FAIL and trial.number not in retried:
            if trial.user_attrs.get(RETRY_OF) is not None:
                continue  # a retry that failed too: left failed
            study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
            again.append(trial.number)
    return again


def enqueue_baseline(study: optuna.Study, values: dict[str, Any]) -> bool:
    """The study's first trial is the given recipe (only in a study without trials)."""
    if study.get_trials(deepcopy=False):
        return False
    study.enqueue_trial(values, user_attrs={"baseline": True})
    return True


def run_trials(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    tune: TuneConfig,
    after_each: Callable[[optuna.Study, FrozenTrial], None],
) -> int:
    """Run trials until the study has `tune.trials` finished ones (counting other workers'),
    or the timeout passes. Returns how many this process ran."""
    if len(finished(study)) >= tune.trials:
        logger.info("study %s already has %d finished trials", study.study_name, tune.trials)
        return 0
    started = time.monotonic()
    failures: list[int] = []
    ran: list[int] = []

    def stop_on_repeated_failure(study: optuna.Study, trial: FrozenTrial) -> None:
        ran.append(trial.number)
        # A failing trial is recorded and the study goes on; one that fails every time
        # (a bad base model, a full disk) must not loop forever.
        failures[:] = [*failures, trial.number] if trial.state == TrialState.FAIL else []
        if len(failures) >= MAX_FAILURES_IN_A_ROW:
            logger.error("study %s stopped: trials %s failed in a row", study.study_name, failures)
            study.stop()

    study.optimize(
        objective,
        timeout=tune.timeout_minutes * 60 if tune.timeout_minutes else None,
        callbacks=[
            after_each,
            stop_on_repeated_failure,
            # Optuna's own stop for many workers: counted in the database after each trial.
            optuna.study.MaxTrialsCallback(tune.trials, states=FINISHED),
        ],
        catch=(Exception,),
    )
    logger.info(
        "study %s: %d trials run here in %.0f s; %d finished in all",
        study.study_name, len(ran), time.monotonic() - started, len(finished(study)),
    )  # fmt: skip
    return len(ran)


def run_study(
    url: str,
    tune: TuneConfig,
    objective: Callable[[optuna.Trial], float],
    after_each: Callable[[optuna.Study, FrozenTrial], None],
) -> int:
    """Open the study at `url` and run its trials here (`run_trials`)."""
    return run_trials(open_study(tune, url), objective, tune, after_each)
