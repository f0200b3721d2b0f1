"""The flow as a user runs it: a cold `nerflow train`, then a fully cached one."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def bench_flow(btc_dir: Path, work: Path, max_steps: int | None) -> dict[str, Any]:
    """Two `nerflow train` commands as a user types them: cold, then fully cached."""
    import subprocess
    import sys

    from nerflow.cache import compute_seconds

    # A private Prefect home and MLflow store: the first run starts cold, as a user's would.
    from nerflow.orchestration.process import apply_prefect_defaults
    from nerflow.reporting.summary import RunSummary

    env = apply_prefect_defaults({**os.environ, "PREFECT_HOME": str(work / "prefect")})
    (work / "mlruns").mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "nerflow.cli", "train", "--data-dir", str(btc_dir),
        "--work-dir", str(work / "flow"), "--json", str(work / "summary.json"),
        "--tracking-uri", f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
    ] + (["--max-steps", str(max_steps)] if max_steps else [])  # fmt: skip
    walls = []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nerflow train failed ({done.returncode}): {done.stderr[-2000:]}")
        walls.append(time.perf_counter() - started)
    folders = [
        folder
        for step in ("datasets", "tokenized", "models", "reports")
        for folder in (work / "flow" / step).iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    ]
    task_seconds = sum(compute_seconds(p) or 0.0 for p in folders)
    summary = RunSummary.model_validate_json((work / "summary.json").read_text(encoding="utf-8"))
    return {
        "steps": f"{max_steps} steps" if max_steps else "default: 3 epochs",
        "first_run_seconds": walls[0],
        "cached_rerun_seconds": walls[1],
        "task_seconds": task_seconds,
        "overhead_seconds": walls[0] - task_seconds,
        "test_f1": summary.scores["test"].f1,
    }
