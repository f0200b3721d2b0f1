#!/usr/bin/env bash
# The GPU path end to end, on a machine with a CUDA GPU and nerflow installed (run it from a
# checkout of the repository: the benchmark is the repository's benchmarks/, not installed):
#   1. make bench-gpu's benchmark (random-init bert-base-cased shape: tokens/s, MFU);
#   2. a short nerflow train of a random-init bert-base-shaped model on the real corpus,
#      default device and precision, then nerflow evaluate and nerflow predict on it;
#   3. the same training through torchrun with one process (nerflow.training.launch, as
#      `--processes N` starts it; nerflow trains a single process in-process).
# Each step is time-boxed; every log goes under OUT, and OUT/gpu_check.json gathers the
# figures (per step: wall time and exit code; per training: device, precision, tweets/s).
#
# usage: deployments/gpu_check.sh DATA_DIR TOKENIZER_DIR OUT [MAX_STEPS]
#   DATA_DIR       local BTC copy (a.conll ... h.conll)
#   TOKENIZER_DIR  a BERT word-piece tokenizer (the offline MiniLM's: no hub download)
#   MAX_STEPS      training steps of each run (default 300)
# NERFLOW runs another command than `nerflow` (e.g. "python3 -m nerflow.cli"); BERT_CONFIG,
# a JSON of BertConfig fields, another shape than bert-base (a tiny one tries it on a CPU).
set -uo pipefail
data=$1 tokenizer=$2 out=$3 steps=${4:-300}
nerflow=${NERFLOW:-nerflow}
mkdir -p "$out"
out=$(cd "$out" && pwd)  # absolute: the benchmark runs from the repository root
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t nerflow-gpu-check-XXXX)
store="sqlite:///$work/mlruns/mlflow.db"
mkdir -p "$work/mlruns"
export PREFECT_SERVER_ANALYTICS_ENABLED=false HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
started=$(date +%s)
timings="$out/timings.tsv"
: > "$timings"

step() {  # step NAME SECONDS COMMAND...: run it time-boxed, log under OUT, time it
  local name=$1 limit=$2
  shift 2
  local t0 rc
  t0=$(date +%s%N)
  echo "=== $name (limit ${limit}s, at $(($(date +%s) - started)) s)"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((($(date +%s%N) - t0) / 1000000))" >> "$timings"
  tail -n 25 "$out/$name.log"
  echo "=== $name: rc=$rc"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'transformers', transformers.__version__)" >> "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

step bench 240 env -C "$root" python3 -m benchmarks --gpu --out "$out/bench"

# A random-init model of bert-base's shape, with the offline tokenizer's vocabulary.
base="$work/bert-base-random"
step base-model 120 python3 - "$base" "$tokenizer" <<'PY'
import json, os, sys
from pathlib import Path
from transformers import BertConfig, BertModel, BertTokenizerFast
out, tokenizer = Path(sys.argv[1]), BertTokenizerFast.from_pretrained(sys.argv[2])
shape = json.loads(os.environ.get("BERT_CONFIG", "{}"))  # default: bert-base, 110M parameters
BertModel(BertConfig(vocab_size=len(tokenizer), **shape)).save_pretrained(out)
tokenizer.save_pretrained(out)
print(out, sorted(p.name for p in out.iterdir()))
PY

common=(--data-dir "$data" --base-model "$base" --max-steps "$steps" --work-dir "$work/work"
        --tracking-uri "$store" --registered-model gpu-check --experiment gpu-check)
step train 420 $nerflow train "${common[@]}" --json "$out/train.json"
step evaluate 180 $nerflow evaluate --model models:/gpu-check@champion --data "$data/f.conll" \
    --tracking-uri "$store" --precision auto --json "$out/evaluate.json"
step predict 120 $nerflow predict --model models:/gpu-check@champion --tracking-uri "$store" \
    "Zachary Raicik works for Corvus and lives in San Diego"

# The torchrun path with one rank, on the tokenized corpus the train step made.
step train-torchrun 420 python3 - "$work/work" "$base" "$steps" <<'PY'
import sys
from pathlib import Path
from nerflow.config import ModelConfig, TrainingConfig
from nerflow.training.fit import FitJob
from nerflow.training.meta import read_training_meta
from nerflow.training.launch import launch
work, base, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
[tokenized] = [p for p in (work / "tokenized").iterdir() if (p / "FINGERPRINT").is_file()]
out = work / "torchrun" / "model"
out.parent.mkdir(parents=True, exist_ok=True)
training = TrainingConfig(max_steps=steps, processes=1)
launch(FitJob(tokenized_dir=tokenized, model=ModelConfig(base_model=base), training=training,
              checkpoints=work / "torchrun" / "ckpt", out=out, key="gpu"))
meta = read_training_meta(out)
print(meta.model_dump(include={"device", "precision", "processes", "train_seconds"}))
PY

python3 - "$work/work" "$out" <<'PY' | tee "$out/gpu_check.json"
import json, sys
from pathlib import Path
from nerflow.cache import compute_seconds
from nerflow.reporting.summary import RunSummary
from nerflow.training.meta import TRAINING_META, read_training_meta
work, out = Path(sys.argv[1]), Path(sys.argv[2])
result = {"steps": {}, "bench": None, "trainings": [], "evaluate": None}
for line in (out / "timings.tsv").read_text().splitlines():
    name, rc, ms = line.split("\t")
    result["steps"][name] = {"rc": int(rc), "wall_s": int(ms) / 1000}
if (bench := out / "bench" / "gpu_benchmark.json").exists():
    result["bench"] = json.loads(bench.read_text())
keep = {"device", "precision", "processes", "per_device_train_batch_size", "train_seconds",
        "train_samples_per_second", "global_steps", "best_validation_f1", "peak_rss_mb"}
models = [p.parent for p in sorted((work / "models").glob(f"*/{TRAINING_META}"))]
models += [p.parent for p in (work / "torchrun").glob(f"model/{TRAINING_META}")]
for model in models:
    meta = read_training_meta(model)
    result["trainings"].append({"model": model.name, **meta.model_dump(include=keep)})
if (summary := out / "train.json").exists():
    s = RunSummary.model_validate_json(summary.read_text())
    result["train"] = {"val_f1": s.scores["validation"].f1, "test_f1": s.scores["test"].f1,
                       "device": s.device, "train_seconds": s.train_seconds}
result["step_compute_s"] = {
    step: [s for p in sorted((work / step).glob("*")) if (s := compute_seconds(p)) is not None]
    for step in ("datasets", "tokenized", "models", "reports")
}
if (evaluate := out / "evaluate.json").exists():
    scores = json.loads(evaluate.read_text())
    result["evaluate"] = {k: v for k, v in scores.items() if k not in ("confusion", "files")}
print(json.dumps(result, indent=1, default=str))
PY
