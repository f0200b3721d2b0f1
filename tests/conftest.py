"""Shared fixtures: an isolated Prefect home, offline hub access, and a tiny random BERT.

A test that needs what a machine may lack (the local corpus copy, a browser) asks for it
with `require(...)`: it skips with the reason where the thing is missing, and fails instead
when NERFLOW_REQUIRE_ALL=1 (CI sets it: CI has them all, so a skip there is a fault).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from nerflow.config import RunConfig

# Before anything imports prefect or transformers: keep caches, locks and results out of
# the user's home and make any accidental hub access fail fast instead of hanging.
_HOME = Path(tempfile.mkdtemp(prefix="nerflow-tests-"))
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# As nerflow's commands run (nerflow.orchestration.process): its messages in run logs.
os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = "nerflow"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("MLFLOW_TRACKING_URI", None)
_BTC_ENV = os.environ.pop("NERFLOW_BTC_DIR", None)

import pytest  # noqa: E402

_BEFORE = pytest.StashKey[set[str]]()

FIXTURES = Path(__file__).parent / "fixtures"
CONLL_DIR = FIXTURES / "conll"
ROOT = Path(__file__).resolve().parents[1]
#: The local BTC copy: $NERFLOW_BTC_DIR, else ../shared/data/broad_twitter_corpus.
BTC_DIR = Path(_BTC_ENV) if _BTC_ENV else ROOT.parent / "shared" / "data" / "broad_twitter_corpus"


def require(available: bool, reason: str) -> None:
    """Skip (or, with NERFLOW_REQUIRE_ALL=1, fail) unless what the test needs is here."""
    if not available:
        _missing(reason)


def _missing(reason: str) -> NoReturn:
    if os.environ.get("NERFLOW_REQUIRE_ALL") == "1":
        pytest.fail(f"NERFLOW_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def btc_dir() -> Path:
    """The local copy of the Broad Twitter Corpus's six section files."""
    require(
        (BTC_DIR / "a.conll").is_file(),
        f"needs the local BTC copy: set NERFLOW_BTC_DIR (looked in {BTC_DIR})",
    )
    return BTC_DIR


def browser_binaries() -> tuple[str, str]:
    """Debian's chromium and chromedriver."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    require(
        bool(chromium and driver),
        "needs Debian's chromium and chromium-driver (as root: make browser)",
    )
    assert chromium and driver
    return chromium, driver


def _untracked() -> set[str]:
    listed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if listed.returncode != 0:  # not a git checkout (an installed copy): nothing to check
        return set()
    return {line[3:] for line in listed.stdout.splitlines() if line.startswith("??")}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember what was untracked before the suite ran."""
    session.config.stash[_BEFORE] = _untracked()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the suite left a new untracked, non-ignored file in the checkout."""
    if session.config.option.collectonly or exitstatus not in (0, 1):
        return
    left = sorted(_untracked() - session.config.stash.get(_BEFORE, set()))
    if left:
        session.config.get_terminal_writer().line(
            "the test suite left files in the checkout: " + ", ".join(left), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def tiny_run_config(
    tiny_model_dir: Path,
    tracking_uri: str,
    experiment: str,
    registered_model: str,
    work_dir: Path,
    corpus: Path = CONLL_DIR,
    **training: object,
) -> RunConfig:
    """The tiny BERT on the fixture tweets for four steps: every flow test's run.

    Its incoming folder is `incoming/` beside the work dir (missing until a test adds files).
    """
    from nerflow.config import DataConfig, ModelConfig, RunConfig, TrackingConfig, TrainingConfig

    incoming = work_dir.parent / "incoming"
    return RunConfig(
        data=DataConfig(source="conll", local_dir=corpus, max_length=32, incoming_dir=incoming),
        model=ModelConfig(base_model=str(tiny_model_dir)),
        training=TrainingConfig(max_steps=4, batch_size=4, learning_rate=1e-3, **training),
        tracking=TrackingConfig(
            tracking_uri=tracking_uri, experiment=experiment, registered_model=registered_model
        ),
        work_dir=work_dir,
    )


@pytest.fixture(autouse=True)
def _no_inherited_tracking_uri() -> None:
    # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI; a test must not inherit the
    # store of the test before it.
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init 2-layer BERT with a word-piece vocabulary built from the fixture tweets."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from nerflow.corpus.conll import read_conll

    words = sorted(
        {
            token.lower()
            for path in CONLL_DIR.glob("*.conll")
            for sentence in read_conll(path)
            for token in sentence.tokens
            if token
        }
    )
    pieces = sorted({c for w in words for c in w} | {"##" + c for w in words for c in w})
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *pieces]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def classifier_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT with a random token-classification head over the BTC labels."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerflow.corpus.labels import LABELS

    folder = tmp_path_factory.mktemp("classifier")
    AutoModelForTokenClassification.from_pretrained(
        str(tiny_model_dir),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    ).save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(folder))
    return folder


@pytest.fixture
def server_locks_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the Prefect concurrency limits taken (recorded, no server needed); this
    process's lock backend is put back to file locks afterwards."""
    from contextlib import contextmanager

    from nerflow.locks import use_shared_locks
    from nerflow.orchestration import locks

    taken: list[str] = []

    @contextmanager
    def slot(name: str, what: str, timeout: float | None) -> Iterator[None]:
        taken.append(name)
        yield

    monkeypatch.setattr(locks, "concurrency_slot", slot)
    try:
        yield taken
    finally:
        use_shared_locks(None)
