"""The figures that compare every variant (results/*.png, written by `report`): the training curves
(from DVCLive's per-epoch files, also kept as one long table), test accuracy against training time,
per-digit F1, reliability, accuracy under each corruption and accuracy across the test's writers."""

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker

from mnist_zoo.config import NUM_CLASSES


def read_curves(training_dir: Path, names: list[str]) -> pd.DataFrame:
    """Long table of DVCLive's per-epoch TSVs: variant, split, epoch, loss, accuracy."""
    frames = []
    for name in names:
        for split, label in (("train", "train"), ("eval", "validation")):
            columns = {}
            for metric in ("loss", "accuracy"):
                tsv = pd.read_csv(training_dir / name / "plots" / "metrics" / split / f"{metric}.tsv", sep="\t")
                columns[metric] = tsv[metric].to_numpy()
                columns["epoch"] = tsv["step"].to_numpy() + 1
            frames.append(pd.DataFrame({"variant": name, "split": label, **columns}))
    return pd.concat(frames, ignore_index=True)[["variant", "split", "epoch", "loss", "accuracy"]]


def label_log_axis(axis: matplotlib.axis.Axis) -> None:
    """Label 1-2-5 steps in plain numbers, so a range inside one decade still has labels."""
    axis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
    axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(ticker.FormatStrFormatter("%g"))


def plot_curves(curves: pd.DataFrame) -> plt.Figure:
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(13, 5))
    colours = plt.get_cmap("tab10")
    for index, (name, group) in enumerate(curves.groupby("variant", sort=False)):
        for split, style in (("train", "-"), ("validation", "--")):
            part = group[group["split"] == split]
            label = name if split == "train" else None
            # Markers keep a one-epoch run visible.
            loss_axes.plot(part["epoch"], part["loss"], style, marker=".", color=colours(index % 10), label=label)
            accuracy_axes.plot(part["epoch"], part["accuracy"], style, marker=".", color=colours(index % 10))
    loss_axes.set(xlabel="Epoch", ylabel="Cross-entropy loss (log scale)", yscale="log", title="Loss")
    accuracy_axes.set(
        xlabel="Epoch", ylabel="Accuracy", title="Accuracy", ylim=(max(0.0, curves["accuracy"].min() - 0.005), 1.0)
    )
    for axes in (loss_axes, accuracy_axes):
        axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    label_log_axis(loss_axes.yaxis)
    loss_axes.legend(title="solid: train, dashed: validation", fontsize=8)
    figure.suptitle("Training curves of every variant")
    figure.tight_layout()
    return figure


def plot_leaderboard(table: pd.DataFrame) -> plt.Figure:
    """Test accuracy against training time; marker area grows with the parameter count."""
    figure, axes = plt.subplots(figsize=(9, 6))
    sizes = 30 + 400 * np.sqrt(table["parameters"] / table["parameters"].max())
    axes.scatter(table["training_seconds"], table["accuracy"], s=sizes, alpha=0.6)
    labels = [
        axes.annotate(
            f"{row['variant']} ({row['parameters']:,} params)",
            (row["training_seconds"], row["accuracy"]),
            textcoords="offset points",
            xytext=(8, 4),
            fontsize=8,
        )
        for row in table.sort_values("accuracy", ascending=False).to_dict("records")
    ]
    axes.set(
        xscale="log",
        xlabel="Training time (s, log scale)",
        ylabel="Test accuracy",
        title="Accuracy against training time (marker area ~ parameters)",
    )
    label_log_axis(axes.xaxis)
    axes.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    separate_labels(figure, labels)
    return figure


def separate_labels(figure: plt.Figure, labels: list) -> None:
    """Nudge each label (ordered top to bottom) down until it overlaps none placed before it: two
    variants of similar accuracy and time otherwise print their names over each other."""
    renderer = figure.canvas.get_renderer()
    placed = []
    for label in labels:
        box = label.get_window_extent(renderer)
        while any(box.overlaps(other) for other in placed):
            x_offset, y_offset = label.xyann
            label.xyann = (x_offset, y_offset - 4)
            box = label.get_window_extent(renderer)
        placed.append(box)


def plot_per_class_f1(evaluations: dict[str, dict[str, Any]]) -> plt.Figure:
    """Variants x digits heat map of F1: which digits each model gets wrong."""
    names = list(evaluations)
    f1 = np.array(
        [[evaluations[name]["per_class"][str(digit)]["f1"] for digit in range(NUM_CLASSES)] for name in names]
    )
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(names) + 1.8))
    image = axes.imshow(f1, cmap="RdYlGn", vmin=max(0.0, min(0.95, f1.min())), vmax=1.0, aspect="auto")
    for row in range(len(names)):
        for digit in range(NUM_CLASSES):
            axes.text(digit, row, f"{f1[row, digit]:.3f}", ha="center", va="center", fontsize=8)
    axes.set(
        xticks=range(NUM_CLASSES),
        yticks=range(len(names)),
        yticklabels=names,
        xlabel="Digit",
        title="Per-class F1 on the test set",
    )
    figure.colorbar(image, ax=axes, label="F1")
    figure.tight_layout()
    return figure


def plot_writers(evaluations: dict[str, dict[str, Any]]) -> plt.Figure:
    """Per model, each test writer's accuracy as a dot (employees above, students below) with the
    writers' median: how unevenly it reads handwriting, and whose."""
    names = [name for name in evaluations if "slices" in evaluations[name]]
    figure, axes = plt.subplots(figsize=(10, 0.7 * len(names) + 1.6))
    colours = {"employees": "#1f77b4", "students": "#d62728"}
    rng = np.random.default_rng(0)  # the dots' vertical jitter, the same on every run
    lowest = 1.0
    for row, name in enumerate(names):
        per_writer = evaluations[name]["slices"]["writers"]["per_writer"].values()
        for offset, group in ((-0.17, "employees"), (0.17, "students")):
            rates = np.array([right / count for count, right, in_group in per_writer if in_group == group])
            if not rates.size:
                continue
            lowest = min(lowest, rates.min())
            jitter = rng.uniform(-0.1, 0.1, rates.size)
            label = group if row == 0 else None
            axes.scatter(rates, row + offset + jitter, s=6, alpha=0.5, color=colours[group], label=label, linewidths=0)
            axes.plot([np.median(rates)] * 2, [row + offset - 0.14, row + offset + 0.14], color="black", linewidth=1.5)
    axes.set(
        yticks=range(len(names)),
        yticklabels=names,
        xlim=(max(0.0, lowest - 0.02), 1.005),
        xlabel="Accuracy on one writer's test digits (bar: the median writer)",
        title="Accuracy across the test set's writers",
    )
    axes.xaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    axes.invert_yaxis()
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower left", markerscale=3, frameon=False)
    figure.tight_layout()
    return figure


OWN_DIGITS_SHOWN = 48  # the sheet's first digits (path order); the evaluations count them all


def plot_own_digits(
    images: np.ndarray, labels: np.ndarray, ids: np.ndarray, evaluations: dict[str, dict[str, Any]]
) -> plt.Figure:
    """Your writers' digits (data/prepared/own.npz), those the most models misread first, each titled
    with its writer, its label and how many models read it right, in red with the other answers."""
    answers = [
        evaluation["slices"]["own"]["answers"]
        for evaluation in evaluations.values()
        if "own" in evaluation.get("slices", {})
    ]
    right = np.array([sum(by.get(i) == label for by in answers) for i, label in zip(ids, labels, strict=True)])
    order = np.argsort(right, kind="stable")[:OWN_DIGITS_SHOWN]
    if not len(order):
        figure = plt.figure(figsize=(6, 1.2))
        figure.text(0.5, 0.5, "No digits of your own yet: digits/README.md says how to add them.", ha="center")
        return figure
    columns = min(8, len(order))
    rows = -(-len(order) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(max(1.3 * columns, 4), 1.6 * rows + 0.5), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, order, strict=False):
        identifier, label = str(ids[index]), int(labels[index])
        wrong = sorted({str(by[identifier]) for by in answers if by.get(identifier, label) != label})
        writer = identifier.removeprefix("own:").split("/")[0]
        axis.imshow(images[index].squeeze(), cmap="gray_r", vmin=0, vmax=255)
        text = f"{writer}'s {label}: {right[index]}/{len(answers)}" + (f"\nread {', '.join(wrong)}" if wrong else "")
        axis.set_title(text, fontsize=7, color="#c0392b" if wrong else "black")
    figure.suptitle(
        f"Your writers: {len(order)} of {len(ids)} digits, the most misread first (models right of {len(answers)})",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def read_reliability(reliability_dir: Path, names: list[str]) -> pd.DataFrame:
    """Every variant's reliability bins (evaluate's plots/reliability/<name>.csv) in one long table."""
    frames = [
        pd.read_csv(reliability_dir / f"{name}.csv").assign(variant=name)
        for name in names
        if (reliability_dir / f"{name}.csv").is_file()
    ]
    return pd.concat(frames, ignore_index=True)[["variant", "confidence", "accuracy", "count"]]


# A bin of fewer test images than this says more about chance than calibration: left off the overlay.
MIN_BIN_IMAGES = 20


def plot_reliability(bins: pd.DataFrame) -> plt.Figure:
    """Every variant's reliability diagram on one plot: the share right against the confidence, per
    bin of test images (a calibrated model sits on the diagonal; below it, overconfident)."""
    figure, axes = plt.subplots(figsize=(8, 7))
    axes.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    colours = plt.get_cmap("tab10")
    for index, (name, group) in enumerate(bins[bins["count"] >= MIN_BIN_IMAGES].groupby("variant", sort=False)):
        axes.plot(group["confidence"], group["accuracy"], "o-", markersize=3, color=colours(index % 10), label=name)
    axes.set(
        xlabel="Top-label confidence (bin mean)",
        ylabel="Accuracy in the bin",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"Reliability of every variant on the test set (bins of {MIN_BIN_IMAGES}+ images)",
    )
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_robustness(robustness: dict[str, dict[str, Any]]) -> plt.Figure:
    """Variants x corruptions heat map of test accuracy, beside the clean accuracy and the mean."""
    if not robustness:
        figure, axes = plt.subplots(figsize=(6, 1.5))
        axes.axis("off")
        axes.text(0.5, 0.5, "No robustness figures: no robustness@<variant> stage has run.", ha="center")
        return figure
    names = list(robustness)
    kinds = list(next(iter(robustness.values()))["corruption_accuracy"])
    columns = ["clean", *kinds, "mean"]
    values = np.array(
        [
            [
                robustness[name]["clean_accuracy"],
                *robustness[name]["corruption_accuracy"].values(),
                robustness[name]["mean_corruption_accuracy"],
            ]
            for name in names
        ]
    )
    figure, axes = plt.subplots(figsize=(1.0 * len(columns) + 2.5, 0.55 * len(names) + 2.2))
    image = axes.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for row in range(len(names)):
        for column in range(len(columns)):
            axes.text(column, row, f"{100 * values[row, column]:.0f}", ha="center", va="center", fontsize=8)
    axes.set_xticks(range(len(columns)), [column.replace("_", " ") for column in columns], rotation=45, ha="right")
    axes.set(
        yticks=range(len(names)),
        yticklabels=names,
        title=f"Test accuracy (%) under each corruption (severity {next(iter(robustness.values()))['severity']})",
    )
    figure.colorbar(image, ax=axes, label="accuracy")
    figure.tight_layout()
    return figure
