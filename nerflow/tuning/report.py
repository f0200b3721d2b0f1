"""What a study shows: a row per trial, its best trial, and its figures."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

logger = logging.getLogger(__name__)

_STATE_NAMES = {
    TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
    TrialState.RUNNING: "running", TrialState.WAITING: "waiting",
}  # fmt: skip


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
            "state": _STATE_NAMES.get(trial.state, trial.state.name.lower()),
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
