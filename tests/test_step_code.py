"""Each cached step's key covers every project module the step runs, by construction.

Every cached step is run on fixtures in a fresh Python process, on an empty work dir (so it
computes instead of reusing), while an audit hook records each project source file opened:
every module imported, at the step module's import or inside a function, and every file
loaded by path (the `evaluate` metric module). Each one must be in the step's declared
`StepCode` (in its key), among the code it declares as only observing, or be the step
machinery that decides where and whether a step computes, never what.
"""

from __future__ import annotations

import ast
import importlib
import json
import pickle
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect import Task

from nerflow.step_code import StepCode, module_files
from tests.conftest import CONLL_DIR, tiny_run_config

#: Decides where and whether a step computes (cache folders, locks, the Prefect wrapper, a
#: retry refused to a step that ran out of memory), never what it writes.
MACHINERY = (
    "nerflow.orchestration.process",
    "nerflow.step_code",
    "nerflow.cache",
    "nerflow.locks",
    "nerflow.shared",
    "nerflow.orchestration.caching",
    "nerflow.orchestration.locks",
)

#: Runs in a fresh interpreter: record, import the step's module, run its plain function.
RECORDER = """
import json, pickle, sys
opened = set()

def record(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].endswith((".py", ".pyc")):
        opened.add(args[0])

sys.addaudithook(record)
import importlib
module = importlib.import_module(sys.argv[1])
with open(sys.argv[3], "rb") as handle:
    args = pickle.load(handle)
getattr(module, sys.argv[2])(*args)
with open(sys.argv[4], "w") as handle:
    json.dump(sorted(opened), handle)
"""


def cached_steps() -> dict[str, Task[Any, Any]]:
    """Every task made by `cached_task`, by its module's name."""
    import nerflow.tasks

    found = {}
    for info in pkgutil.iter_modules(nerflow.tasks.__path__, "nerflow.tasks."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Task) and isinstance(getattr(value, "code", None), StepCode):
                found[info.name] = value
    return found


def source_of(opened: str) -> Path:
    """The source file behind a module's cached bytecode, or the file itself."""
    path = Path(opened).resolve()
    if path.parent.name == "__pycache__":
        return path.parent.parent / (path.name.split(".")[0] + ".py")
    return path


def project_files() -> set[Path]:
    """Every source file of the installed project, the mapped top-level folders included."""
    names = ("nerflow", "nerflow.tasks", "nerflow.flows", "nerflow.deployments")
    return {file for name in names for file in module_files(name)}


def holds_no_code(path: Path) -> bool:
    """A package's `__init__` with nothing but its docstring: importing it computes nothing."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (docstring or future):
            return False
    return True


@pytest.fixture(scope="module")
def inputs(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, classifier_dir: Path
) -> dict[str, Callable[[Path], tuple[Any, ...]]]:
    """Each cached step's arguments for a work dir; the inputs are made once, here."""
    import mlflow
    from mlflow import MlflowClient
    from nerflow.tasks.gather_corpus import gather_corpus
    from nerflow.tasks.split_fold import split_fold
    from nerflow.tasks.tokenize_dataset import tokenize_dataset
    from nerflow.tasks.train_model import train_model

    from nerflow.tagging.config import TaggingConfig
    from nerflow.tagging.tweets import read_input
    from nerflow.tracking.model import log_model
    from nerflow.tracking.registry import register_version
    from nerflow.tracking.store import active_store
    from nerflow.tracking.tagging import resolve_alias

    root = tmp_path_factory.mktemp("step-code")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    config = tiny_run_config(tiny_model_dir, uri, "step-code", "step-code", root / "work")
    # A new file that the champion was not trained on: score_champion scores it too.
    config.data.incoming_dir.mkdir()
    (config.data.incoming_dir / "new.conll").write_bytes((CONLL_DIR / "test.conll").read_bytes())
    dataset = gather_corpus(config.data, config.work_dir)
    tokenized = tokenize_dataset(dataset, config.model, config.data, config.work_dir)
    model = train_model(tokenized, config.model, config.training, config.work_dir)
    with active_store(uri), mlflow.start_run():
        model_uri = log_model(classifier_dir, "# card\n")
    version = register_version(uri, "step-code", model_uri, {})
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "step-code", "champion", version
    )
    tweets_file = root / "tweets.txt"
    tweets_file.write_text("Paris is nice\nI met Anna in London\n", encoding="utf-8")
    tagging = TaggingConfig(chunk_size=1, batch_size=2, max_length=32, precision="fp32")
    tweets = read_input(tweets_file)[0]
    champion = resolve_alias(uri, "step-code", "champion")
    length = config.data.max_length
    fold = split_fold(dataset, 0, 2, 1, config.work_dir)
    return {
        "gather_corpus": lambda work: (config.data, work),
        "tokenize_dataset": lambda work: (dataset, config.model, config.data, work),
        "train_model": lambda work: (
            tokenized,
            config.model,
            config.training,
            work,
            config.tracking,
        ),
        "evaluate_model": lambda work: (model, dataset, length, work),
        "score_champion": lambda work: (config.tracking, dataset, length, work),
        "tag_chunks": lambda work: (tweets, champion, tagging, work),
        "split_fold": lambda work: (dataset, 0, 2, 1, work),
        "rank_label_issues": lambda work: ([(fold, model)], length, work),
    }


def test_every_cached_step_is_checked() -> None:
    assert {name.rsplit(".", 1)[1] for name in cached_steps()} == {
        "gather_corpus", "tokenize_dataset", "train_model", "evaluate_model",
        "score_champion", "tag_chunks", "split_fold", "rank_label_issues",
    }  # fmt: skip


@pytest.mark.parametrize(
    "step",
    [
        "gather_corpus",
        "tokenize_dataset",
        "train_model",
        "evaluate_model",
        "score_champion",
        "tag_chunks",
        "split_fold",
        "rank_label_issues",
    ],
)
def test_a_step_runs_no_project_code_outside_its_key(
    step: str, inputs: dict[str, Callable[[Path], tuple[Any, ...]]], tmp_path: Path
) -> None:
    module = f"nerflow.tasks.{step}"
    code: StepCode = cached_steps()[module].code  # type: ignore[attr-defined]
    work = tmp_path / "work"
    (tmp_path / "args.pkl").write_bytes(pickle.dumps(inputs[step](work)))
    ran = subprocess.run(
        [sys.executable, "-c", RECORDER, module, step, tmp_path / "args.pkl", tmp_path / "r.json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert any(work.iterdir()), "the step reused instead of computing: nothing was recorded"
    opened = {source_of(path) for path in json.loads((tmp_path / "r.json").read_text())}
    ran_code = opened & project_files()
    covered = set(code.files())
    observed = {file for name in code.observes for file in module_files(name)}
    machinery = {file for name in MACHINERY for file in module_files(name)}
    outside = sorted(
        str(file)
        for file in ran_code - covered - observed - machinery
        if not (file.name == "__init__.py" and holds_no_code(file))
    )
    assert not outside, f"{step} ran project code that its key does not cover: {outside}"
    assert module_files(module)[0] in covered


def test_the_key_follows_code_not_comments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "steppkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / "labels.py").write_text('"""Doc."""\nLABELS = ["O"]\n', encoding="utf-8")
    (package / "other.py").write_text("X = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = StepCode(("steppkg.sub",))
    before = code.version()
    (package / "sub" / "labels.py").write_text(
        '"""Another doc."""\n# a comment\nLABELS = ["O"]\n', encoding="utf-8"
    )
    (package / "other.py").write_text("X = 2\n", encoding="utf-8")
    assert code.version() == before
    (package / "sub" / "labels.py").write_text('LABELS = ["O", "B-PER"]\n', encoding="utf-8")
    assert code.version() != before
    for name in ("steppkg", "steppkg.sub"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_step_naming_no_module_is_an_error() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"nerflow\.no_such"):
        StepCode(("nerflow.no_such",)).version()


def test_the_metric_module_loaded_by_path_is_in_the_evaluation_key() -> None:
    from nerflow.tasks.evaluate_model import CODE

    from nerflow.metrics.scores import METRIC_DIR

    assert (METRIC_DIR / "entity_f1.py").resolve() in CODE.files()
