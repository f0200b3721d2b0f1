"""Figures for a training run: word-level confusion, per-type scores, learning curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from nerflow.corpus.labels import ENTITY_TYPES
from nerflow.tracking import names

if TYPE_CHECKING:
    # Not at run time: training imports this module, and its step key does not cover evaluation.
    from nerflow.evaluation import Confusion, EvaluationReport


def confusion_figure(confusion: Confusion, title: str) -> Figure:
    """Gold type (rows) against predicted type (columns) per word, O included."""
    labels, matrix = confusion.labels, confusion.matrix
    figure = Figure(figsize=(4.8, 4.2), layout="constrained")
    axes = figure.subplots()
    totals = [max(sum(row), 1) for row in matrix]
    # Colour by row share so the rare entity rows are as readable as the huge O row.
    shares = [[count / totals[i] for count in row] for i, row in enumerate(matrix)]
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if shares[i][j] > 0.6 else "black"
            axes.text(j, i, f"{count}", ha="center", va="center", color=colour, fontsize=9)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="share of gold row")
    return figure


def per_type_figure(report: EvaluationReport) -> Figure:
    """Precision, recall and F1 per entity type (and overall) on validation and test."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    types = [*ENTITY_TYPES, "overall"]
    splits = report.splits.items()
    for axes, (split, scores) in zip(
        figure.subplots(1, len(splits), sharey=True), splits, strict=True
    ):
        for offset, metric in enumerate(("precision", "recall", "f1")):
            values = [
                getattr(scores if name == "overall" else scores.per_type[name], metric)
                for name in types
            ]
            positions = [i + (offset - 1) * 0.27 for i in range(len(types))]
            bars = axes.bar(positions, values, width=0.27, label=metric)
            axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        axes.set_xticks(range(len(types)), types)
        axes.set_ylim(0, 1.08)
        axes.set_title(f"{split} (entity level)")
    figure.axes[0].legend(loc="lower left", fontsize=8)
    return figure


def learning_curves_figure(history: list[dict[str, Any]]) -> Figure:
    """Training loss per logging step; validation loss and entity F1 per evaluation."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    loss_axes, f1_axes = figure.subplots(1, 2)
    train = [(e["epoch"], e["loss"]) for e in history if "loss" in e]
    evals = [e for e in history if "eval_f1" in e]
    if train:
        loss_axes.plot(*zip(*train, strict=True), label="training loss")
    if evals:
        epochs = [e["epoch"] for e in evals]
        loss_axes.plot(epochs, [e["eval_loss"] for e in evals], "o-", label="validation loss")
        f1_axes.plot(epochs, [e["eval_f1"] for e in evals], "o-", label="overall", linewidth=2)
        for name in ENTITY_TYPES:
            f1_axes.plot(epochs, [e.get(f"eval_{name}_f1", 0.0) for e in evals], ".--", label=name)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_title("loss")
    loss_axes.legend(fontsize=8)
    f1_axes.set_xlabel("epoch")
    f1_axes.set_ylim(0, 1)
    f1_axes.set_title("validation entity F1")
    f1_axes.legend(fontsize=8)
    return figure


def data_curve_figure(points: list[dict[str, Any]]) -> Figure:
    """Validation and test entity F1 of each registered version against its training tweets."""
    figure = Figure(figsize=(6, 3.8), layout="constrained")
    axes = figure.subplots()
    tweets, val = names.TRAIN_TWEETS_TAG, names.VAL_F1
    x = [p[tweets] for p in points]  # in order of training tweets, as the caller sorts them
    for split, marker in ((val, "o"), (names.TEST_F1, "s")):
        axes.plot(x, [p[split] for p in points], marker=marker, label=split.replace("_", " "))
    for point in points:
        axes.annotate(point["label"], (point[tweets], point[val]), fontsize=7,
                      textcoords="offset points", xytext=(3, 4))  # fmt: skip
    axes.set_xlabel("training tweets")
    axes.set_ylabel("entity micro-F1")
    axes.set_title("F1 against training data (same validation and test splits)")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    return figure


def save_figures(report: EvaluationReport, history: list[dict[str, Any]], out: Path) -> None:
    """Write every figure as a PNG into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "learning_curves.png": learning_curves_figure(history),
        "per_type_scores.png": per_type_figure(report),
        **{
            f"confusion_{split}.png": confusion_figure(
                scores.confusion, f"{split}: word-level entity types"
            )
            for split, scores in report.splits.items()
        },
    }
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=110)
