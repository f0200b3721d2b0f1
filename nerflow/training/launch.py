"""Data-parallel training: start `fit` in N torchrun ranks on this machine, one per GPU.

Run as `python -m nerflow.training.launch SPEC.json` by torchrun, this module is one rank.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from nerflow.config import ModelConfig, TrainingConfig
from nerflow.inference.device import pick_device
from nerflow.training.fit import TRAINING_META, fit

logger = logging.getLogger(__name__)


def launch(
    tokenized_dir: Path,
    model: ModelConfig,
    training: TrainingConfig,
    checkpoints: Path,
    out: Path,
    key: str,
) -> None:
    """Run `fit` in `training.processes` torchrun ranks and check that rank 0 saved into `out`."""
    device, _ = pick_device(training.device)
    if device == "cuda" and training.processes > torch.cuda.device_count():
        raise ValueError(
            f"training.processes={training.processes} but only "
            f"{torch.cuda.device_count()} CUDA device(s) are visible: one process per GPU"
        )
    spec = {
        "tokenized_dir": str(tokenized_dir.resolve()),
        "model": model.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "checkpoints": str(checkpoints.resolve()),
        "out": str(out.resolve()),
        "key": key,
    }
    handle, name = tempfile.mkstemp(prefix=f"nerflow-train-{key}-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as spec_file:
        json.dump(spec, spec_file, indent=2)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={training.processes}",
        "-m",
        __name__,
        name,
    ]
    logger.info("training in %d processes: %s", training.processes, " ".join(command))
    code, tail = _run_echoing_stderr(command)
    if code != 0:
        raise RuntimeError(
            f"distributed training failed (exit {code}; spec {name}, rerun with: "
            f"{' '.join(command)}); last stderr:\n{tail}"
        )
    if not (out / TRAINING_META).is_file():
        raise RuntimeError(f"distributed training exited cleanly but did not save {out}")
    os.unlink(name)  # kept on failure: the error message points at it for a rerun


def _run_echoing_stderr(command: list[str], keep: int = 6000) -> tuple[int, str]:
    """Run `command`, passing its stderr through live; return its exit code and stderr's tail."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    with subprocess.Popen(command, stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        try:  # raw chunks, not lines: progress bars redraw with \r and would stall
            while chunk := os.read(process.stderr.fileno(), 1 << 16):
                text = decoder.decode(chunk)
                sys.stderr.write(text)
                sys.stderr.flush()
                tail = (tail + text)[-keep:]
        except BaseException:  # cancelled: torchrun passes SIGTERM on to its ranks
            process.terminate()
            raise
    return process.returncode, tail


def _rank_main(spec_file: Path) -> None:
    """One torchrun rank: train from the spec `launch` wrote."""
    from torch.distributed.elastic.multiprocessing.errors import record

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nerflow").setLevel(logging.INFO)  # our progress, not every library's
    job = json.loads(spec_file.read_text(encoding="utf-8"))
    # record: torchrun's failure summary (the end of stderr) then shows the rank's exception.
    record(fit)(
        Path(job["tokenized_dir"]),
        ModelConfig.model_validate(job["model"]),
        TrainingConfig.model_validate(job["training"]),
        Path(job["checkpoints"]),
        Path(job["out"]),
        job["key"],
    )


if __name__ == "__main__":
    _rank_main(Path(sys.argv[1]))
