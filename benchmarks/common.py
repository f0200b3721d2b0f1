"""What the benchmark's measurements share: step counts, the settings compared, the corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerflow.config import DEFAULT_BASE_MODEL, DataConfig

SEED_MAX_LENGTH = 512
SEED_BATCH = 8
PROJECT_BATCH = 32
PROJECT_MAX_LENGTH = DataConfig().max_length
TOKEN_BUDGET = 1024


@dataclass(frozen=True)
class BenchPlan:
    """Step counts: quick for CI (seconds to minutes), full for the README's figures."""

    rounds: int  # interleaved training rounds
    steps_per_round: int  # training steps each variant runs per round
    warmup_steps: int  # untimed training steps before the first round
    infer_tweets: int
    flow_max_steps: int | None  # None: a default run (3 epochs)
    scored_tweets: int | None = None  # validation tweets each precision is scored on (None: all)

    @classmethod
    def for_mode(cls, quick: bool) -> BenchPlan:
        """The plan for quick or full mode."""
        if quick:
            return cls(
                rounds=2, steps_per_round=2, warmup_steps=1, infer_tweets=48, flow_max_steps=3,
                scored_tweets=400,
            )  # fmt: skip
        return cls(
            rounds=5, steps_per_round=5, warmup_steps=1, infer_tweets=400, flow_max_steps=None
        )


@dataclass(frozen=True)
class TrainVariant:
    """One training pipeline the benchmark times: the seed's recipe or one of nerflow's."""

    name: str  # benchmark.json's key is train_<name>
    label: str  # what the tables call it
    ratio: str  # the name of its tweets/s ratio over the seed's ("" for the seed itself)
    seed_recipe: bool = False  # padded to 512, every sub-word labelled, frozen, batch 8
    token_budget: bool = False  # token-budget batches instead of length-grouped batches of 32
    bf16: bool = False  # mixed bf16 (autocast); fp32 otherwise

    @property
    def precision(self) -> str:
        """The precision it trains in."""
        return "bf16" if self.bf16 else "fp32"


SEED = TrainVariant("seed", "seed", "", seed_recipe=True)
TRAIN_VARIANTS = (
    SEED,
    TrainVariant("project", "nerflow", "train_tweets_per_s_speedup"),
    TrainVariant("token_budget", "nerflow, token budget", "train_token_budget_speedup",
                 token_budget=True),
    TrainVariant("project_bf16", "nerflow, bf16", "train_bf16_speedup", bf16=True),
    TrainVariant("token_budget_bf16", "nerflow, token budget, bf16",
                 "train_token_budget_bf16_speedup", token_budget=True, bf16=True),
)  # fmt: skip


def corpus(btc_dir: Path, work: Path) -> Any:
    """The BTC DatasetDict, built by the flow's own download step."""
    from datasets import load_from_disk
    from nerflow.tasks.gather_corpus import gather_corpus

    return load_from_disk(str(gather_corpus(DataConfig(local_dir=btc_dir), work) / "dataset"))


def tokenizer() -> Any:
    """The base model's tokenizer."""
    from nerflow.config import resolve_base_model
    from nerflow.inference.tokenizer import load_tokenizer

    return load_tokenizer(resolve_base_model(DEFAULT_BASE_MODEL))
