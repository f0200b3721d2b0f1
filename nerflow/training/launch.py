"""Data-parallel training: `fit` in N ranks on this machine, one per GPU (`python -m
nerflow.training.launch SPEC.json` reruns them)."""

# Each rank is this module run again with a rendezvous file. Not torchrun: its rendezvous
# stores listen on every interface whatever host they are given; a file store opens no socket.

from __future__ import annotations

import codecs
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from nerflow.inference.device import pick_device
from nerflow.training.fit import FitJob, fit
from nerflow.training.meta import TRAINING_META

logger = logging.getLogger(__name__)
MODULE = "nerflow.training.launch"  # not __name__: that is __main__ when run by hand


def launch(job: FitJob) -> None:
    """Run `fit` in `job.training.processes` ranks and check that rank 0 saved into `job.out`."""
    training = job.training
    device, _ = pick_device(training.device)
    if device == "cuda" and training.processes > torch.cuda.device_count():
        raise ValueError(
            f"training.processes={training.processes} but only "
            f"{torch.cuda.device_count()} CUDA device(s) are visible: one process per GPU"
        )
    # Absolute paths: the spec file is rerun by hand (see the error below) from anywhere.
    folders = ("tokenized_dir", "checkpoints", "out")
    spec = job.model_copy(update={name: getattr(job, name).resolve() for name in folders})
    handle, name = tempfile.mkstemp(prefix=f"nerflow-train-{job.key}-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as spec_file:
        spec_file.write(spec.model_dump_json(indent=2))
    command = [sys.executable, "-m", MODULE, name]
    logger.info("training in %d processes: %s", training.processes, " ".join(command))
    code, tail = _run_ranks(Path(name), training.processes)
    if code != 0:
        raise RuntimeError(
            f"distributed training failed (exit {code}; spec {name}, rerun with: "
            f"{' '.join(command)}); last stderr:\n{tail}"
        )
    if not (job.out / TRAINING_META).is_file():
        raise RuntimeError(f"distributed training exited cleanly but did not save {job.out}")
    os.unlink(name)  # kept on failure: the error message points at it for a rerun


def _run_ranks(spec: Path, processes: int, keep: int = 6000) -> tuple[int, str]:
    """Train from `spec` in `processes` ranks, passing their stderr through live; stop them all
    when one fails. The exit code (the first failed rank's) and the tail of their stderr."""
    env = {
        **os.environ,
        "WORLD_SIZE": str(processes),
        "LOCAL_WORLD_SIZE": str(processes),
        # gloo and NCCL listen on the interface these name: loopback, unless the user chose one
        "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo"),
        "NCCL_SOCKET_IFNAME": os.environ.get("NCCL_SOCKET_IFNAME", "lo"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),  # as torchrun: N ranks share
    }
    tail = [""]
    with tempfile.TemporaryDirectory(prefix="nerflow-rendezvous-") as folder:
        command = [sys.executable, "-m", MODULE, str(spec), str(Path(folder) / "store")]
        read, write = os.pipe()
        try:
            ranks = [
                subprocess.Popen(command, stderr=write, env={**env, "RANK": r, "LOCAL_RANK": r})
                for r in map(str, range(processes))
            ]
        finally:
            os.close(write)  # the ranks hold it now: the pipe ends when the last one exits
        echo = threading.Thread(target=_echo, args=(read, tail, keep), daemon=True)
        echo.start()
        try:
            while not (failed := [r for r in ranks if r.poll()]) and any(
                r.returncode is None for r in ranks
            ):
                time.sleep(0.2)
        finally:  # a failed rank leaves the others waiting for it; a cancel stops them all
            for rank in ranks:
                if rank.poll() is None:
                    rank.terminate()
            for rank in ranks:
                rank.wait()
        echo.join(timeout=10)
    return (failed[0].returncode if failed else 0), tail[0]


def _echo(pipe: int, tail: list[str], keep: int) -> None:
    """Copy `pipe` to stderr until it ends, keeping its last `keep` characters in `tail[0]`."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with open(pipe, "rb", buffering=0) as stream:
        # raw chunks, not lines: progress bars redraw with \r and would stall
        while chunk := stream.read(1 << 16):
            text = decoder.decode(chunk)
            sys.stderr.write(text)
            sys.stderr.flush()
            tail[0] = (tail[0] + text)[-keep:]


def _rank_main(spec_file: Path, store: Path) -> None:
    """One rank: join the others through the file `store`, then train from the spec."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nerflow").setLevel(logging.INFO)  # our progress, not every library's
    job = FitJob.model_validate_json(spec_file.read_text(encoding="utf-8"))
    cuda = pick_device(job.training.device)[0] == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    # The Trainer (accelerate) takes over a process group that is already set up.
    torch.distributed.init_process_group(
        "nccl" if cuda else "gloo",
        init_method=store.as_uri(),
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
    )
    fit(job)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    if len(sys.argv) > 2:
        _rank_main(Path(sys.argv[1]), Path(sys.argv[2]))
    else:  # by hand, after a failure: all the ranks again
        spec = Path(sys.argv[1])
        processes = FitJob.model_validate_json(spec.read_text(encoding="utf-8")).training.processes
        sys.exit(_run_ranks(spec, processes)[0])
