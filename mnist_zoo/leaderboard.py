"""The zoo side by side: the leaderboard (a table and its Markdown), each variant's test error
under a short label, the training curves in one long table, and the figures that compare every
variant (curves, accuracy against training time, per-digit F1)."""

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker

from mnist_zoo.config import NUM_CLASSES

COLUMNS = {  # leaderboard column -> header
    "variant": "Variant",
    "accuracy": "Test accuracy",
    "f1_macro": "Macro F1",
    "reported_accuracy": "Post reported",
    "ece": "ECE",
    "corruption_accuracy": "Corrupted",
    "other_writers_accuracy": "Other writers",
    "ood_auroc": "Not a digit (AUROC)",
    "parameters": "Parameters",
    "training_seconds": "Training s",
    "epochs_run": "Epochs",
    "images_per_second": "Images/s",
}


def figures(evaluation: dict[str, Any], robustness: dict[str, Any] | None) -> dict[str, Any]:
    """One variant's figures, flat: its evaluation's, its calibration error, and (where its
    robustness stage ran) its mean accuracy on corrupted scans and on other writers' digits, and how
    well it tells digits from Fashion-MNIST's clothes (AUROC of the "not a digit" scores)."""
    found = {
        key: evaluation.get(key)
        for key in ("accuracy", "f1_macro", "parameters", "training_seconds", "epochs_run", "images_per_second")
    }
    found["ece"] = evaluation.get("calibration", {}).get("ece")
    found["corruption_accuracy"] = robustness and robustness["mean_corruption_accuracy"]
    found["other_writers_accuracy"] = robustness and robustness["other_writers"]["accuracy"]
    found["ood_auroc"] = robustness and robustness["not_a_digit"]["fashion_mnist"]["auroc"]
    return found


def leaderboard(records: dict[str, dict[str, Any]], reported: dict[str, float | None]) -> pd.DataFrame:
    """One row per variant (its `figures`), best test accuracy first (ties keep train.variants order)."""
    rows = [
        {
            "variant": name,
            **{key: record.get(key) for key in COLUMNS if key != "variant"},
            "reported_accuracy": reported.get(name),
        }
        for name, record in records.items()
    ]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.sort_values("accuracy", ascending=False, kind="stable").reset_index(drop=True)


# The summary's figures per variant (results/metrics.json): its key -> the `figures` key.
SUMMARY_FIGURES = {
    "accuracy": "accuracy",
    "f1_macro": "f1_macro",
    "training_seconds": "training_seconds",
    "epochs": "epochs_run",
    "ece": "ece",
    "corruption_accuracy": "corruption_accuracy",
    "other_writers_accuracy": "other_writers_accuracy",
    "ood_auroc": "ood_auroc",
}


def short_labels(names: list[str], short_names: dict[str, str]) -> dict[str, str]:
    """Each variant's column in the summary: its report.short_names label, else its name."""
    labels = {name: short_names.get(name, name) for name in names}
    for name, label in labels.items():
        others = [other for other, other_label in labels.items() if other_label == label and other != name]
        others += [figure for figure in SUMMARY_FIGURES if figure == label]
        if others:
            raise ValueError(
                f"params.yaml: report.short_names gives {name} the label {label!r}, which {others[0]} "
                "already has (as its label or its name); give each variant a label of its own."
            )
    return labels


def error_percentages(accuracies: dict[str, float], labels: dict[str, str]) -> dict[str, float]:
    """Test error in percent (100 - accuracy), two decimals, keyed by label: at most four characters
    a column (0.43, 2.79, 12.5 with `--precision 3`), so eight variants, the experiment names and two
    changed params fit `dvc exp show` in 120 columns, where five-character accuracies (99.57) do not."""
    return {labels[name]: round(100 * (1 - accuracy), 2) for name, accuracy in accuracies.items()}


def summary(records: dict[str, dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    """The project's metrics (results/metrics.json, in git): first each variant's test error in
    percent under its short label, the columns `dvc exp show` lists first, then per figure each
    variant's value (from `figures`) under its full name, for `dvc metrics show` / `diff`, the
    regression gate and the pull-request comment. A figure a variant lacks is left out."""
    accuracies = {name: record["accuracy"] for name, record in records.items()}
    return error_percentages(accuracies, labels) | {
        figure: {name: record[key] for name, record in records.items() if record.get(key) is not None}
        for figure, key in SUMMARY_FIGURES.items()
    }


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pull-request comments render it)."""

    def cell(key: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if key in ("accuracy", "reported_accuracy", "corruption_accuracy", "other_writers_accuracy"):
            return f"{value:.2%}"
        if key in ("f1_macro", "ece", "ood_auroc"):
            return f"{value:.4f}"
        if key in ("parameters", "images_per_second"):
            return f"{value:,.0f}"
        if key == "training_seconds":
            return f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    for row in table.to_dict("records"):
        lines.append("| " + " | ".join(cell(key, row[key]) for key in COLUMNS) + " |")
    return "# Leaderboard (MNIST test set)\n\n" + "\n".join(lines) + "\n"


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
