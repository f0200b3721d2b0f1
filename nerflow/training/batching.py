"""Token-budget batching: batches of similar-length tweets whose padded size fits a budget."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader, Sampler
from transformers import Trainer


class TokenBudgetSampler(Sampler[list[int]]):
    """Batches of similar-length tweets whose padded size (longest x count) fits a budget."""

    # Short tweets travel in big batches and long ones in small: each step costs about the
    # same and almost no compute goes to padding. Batch order is reshuffled each epoch.

    def __init__(self, lengths: list[int], budget: int, seed: int) -> None:
        if max(lengths, default=0) > budget:
            raise ValueError(f"a tweet of {max(lengths)} sub-words exceeds the budget {budget}")
        self.batches = token_budget_batches(lengths, budget)
        self.seed = seed
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.batches)))
        random.Random(self.seed + self.epoch).shuffle(order)
        self.epoch += 1
        return (self.batches[i] for i in order)

    def __len__(self) -> int:
        return len(self.batches)


def token_budget_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Cut length-sorted indices into batches whose longest x count stays within `budget`."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # sorted ascending, so the newcomer is the longest of its batch
        if current and lengths[index] * (len(current) + 1) > budget:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class TokenBudgetTrainer(Trainer):
    """A Trainer whose training batches come from a `TokenBudgetSampler`."""

    def __init__(self, *args: Any, token_budget: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token_budget = token_budget

    def get_train_dataloader(self) -> DataLoader:
        """Token-budget batches instead of a fixed batch size."""
        assert self.train_dataset is not None
        lengths = list(self.train_dataset["length"])
        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        loader = DataLoader(
            dataset,
            batch_sampler=TokenBudgetSampler(lengths, self.token_budget, self.args.seed),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)
