"""The Optuna study: where it lives, how it is opened, resumed and run to its trial count, and
what it shows (a row per trial, its best trial, its figures).

Every process that opens the same name at the same database URL adds trials to one study
(Optuna's way to run trials on many workers); a killed process leaves it to be resumed.
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
    """Create the study, or load it to resume (maximising validation entity F1)."""
    # Heartbeats let any worker see that a trial's process died (marked failed after a few
    # minutes without one); `requeue_failed` then gives it another go.
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
    a killed worker, a RUNNING one past its heartbeat's grace); return their numbers."""
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


def run_study(
    url: str,
    tune: TuneConfig,
    objective: Callable[[optuna.Trial], float],
    after_each: Callable[[optuna.Study, FrozenTrial], None],
) -> int:
    """Run the study at `url` until it has `tune.trials` finished trials (counting other
    workers'), or the timeout passes; return how many this process ran."""
    study = open_study(tune, url)
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


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: number, state, validation F1 (best epoch; last reported when
    pruned), epochs it reached, minutes, and its values."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        reported = trial.intermediate_values
        score = trial.value if trial.value is not None else max(reported.values(), default=None)
        minutes = (
            (trial.datetime_complete - trial.datetime_start).total_seconds() / 60
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        rows.append({
            "trial": trial.number,
            "state": "failed" if trial.state == TrialState.FAIL else trial.state.name.lower(),
            "val_f1": None if score is None else round(score, 4),
            "epochs": max(reported, default=0),
            "minutes": None if minutes is None else round(minutes, 1),
            **{name: _shown(value) for name, value in sorted(trial.params.items())},
        })  # fmt: skip
    return rows


def _shown(value: Any) -> Any:
    return f"{value:.3g}" if isinstance(value, float) else value


def best_trial(study: optuna.Study) -> dict[str, Any] | None:
    """The complete trial with the best validation F1, or None before any completes."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    best = max(complete, key=lambda t: (t.value or 0.0, -t.number))
    return {"trial": best.number, "val_f1": best.value, "params": dict(best.params)}


def study_figures(study: optuna.Study, out: Path) -> list[Path]:
    """Optimisation history and parameter importances as PNGs in `out` (importances need
    two complete trials that differ)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    plots: dict[str, Any] = {
        "optimization_history.png": optuna_plots.plot_optimization_history,
        "param_importances.png": optuna_plots.plot_param_importances,
    }
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                logger.info("study %s: no %s yet (%s)", study.study_name, name, exc)
                continue
        figure = axes.figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        figure.savefig(out / name, dpi=100)
        plt.close(figure)
        saved.append(out / name)
    return saved
