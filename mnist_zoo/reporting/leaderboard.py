"""The zoo side by side, as numbers: the summary figures' registry, each variant's figures gathered
from its stages' outputs, the project's metrics (results/metrics.json), and the leaderboard built
from them, as a table and as the Markdown that results/leaderboard.md and the README show.

A summary figure is declared once, in FIGURES: the summary, the leaderboard, the README's table and
the page's data.json (which the page's JavaScript reads for its headers and formats) all follow it.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd


class Results(NamedTuple):
    """What one variant's stages wrote, as a figure's `value` reads it."""

    evaluation: dict[str, Any]  # metrics/evaluation/<name>.json
    robustness: dict[str, Any] | None  # metrics/robustness/<name>.json (none for a transfer variant)
    spec: dict[str, Any]  # its params section


# How a figure is written, by name: the page's JavaScript (web/app.js) has the same three.
FORMATS: dict[str, Callable[[float], str]] = {
    "percent": lambda value: f"{value:.2%}",
    "score": lambda value: f"{value:.4f}",  # a figure in [0, 1] that is not a share of images
    "count": lambda value: f"{value:,.0f}",
}


class Figure(NamedTuple):
    key: str  # its name in results/metrics.json (`dvc metrics diff`, the gate) and in data.json
    header: str  # its column's header in the leaderboard, the README and the page
    format: str  # one of FORMATS
    value: Callable[[Results], Any]  # where it comes from; None where a variant has none


def robustness_figure(read: Callable[[dict[str, Any]], Any]) -> Callable[[Results], Any]:
    return lambda results: None if results.robustness is None else read(results.robustness)


def slice_figure(results: Results, *keys: str) -> Any:
    """A figure of the evaluation's slices (an evaluation written before them has none)."""
    value = results.evaluation.get("slices")
    for key in keys:
        value = None if value is None else value.get(key)
    return value


# The summary figures, in the leaderboard's order (docs/extending.md: adding one).
FIGURES = (
    Figure("accuracy", "Test accuracy", "percent", lambda r: r.evaluation["accuracy"]),
    # The same test digits by who wrote them (QMNIST's NIST series), and against MNIST's own labels
    # where labels/corrections.csv changed some.
    Figure("employees_accuracy", "Employees", "percent", lambda r: slice_figure(r, "groups", "employees", "accuracy")),
    Figure("students_accuracy", "Students", "percent", lambda r: slice_figure(r, "groups", "students", "accuracy")),
    Figure(
        "published_accuracy", "Published labels", "percent", lambda r: slice_figure(r, "published_labels", "accuracy")
    ),
    # Your writers (digits/, none until someone adds theirs): the digits it did not train on.
    Figure("own_accuracy", "Your writers", "percent", lambda r: slice_figure(r, "own", "accuracy")),
    Figure("f1_macro", "Macro F1", "score", lambda r: r.evaluation["f1_macro"]),
    Figure("reported_accuracy", "Post reported", "percent", lambda r: r.spec.get("reported_accuracy")),
    Figure("ece", "ECE", "score", lambda r: r.evaluation.get("calibration", {}).get("ece")),
    Figure("corruption_accuracy", "Corrupted", "percent", robustness_figure(lambda r: r["mean_corruption_accuracy"])),
    Figure(
        "other_writers_accuracy",
        "Other writers",
        "percent",
        robustness_figure(lambda r: r["other_writers"]["accuracy"]),
    ),
    Figure(
        "ood_auroc",
        "Not a digit (AUROC)",
        "score",
        robustness_figure(lambda r: r["not_a_digit"]["fashion_mnist"]["auroc"]),
    ),
    Figure("parameters", "Parameters", "count", lambda r: r.evaluation["parameters"]),
    Figure("training_seconds", "Training s", "count", lambda r: r.evaluation["training_seconds"]),
    Figure("epochs", "Epochs", "count", lambda r: r.evaluation["epochs_run"]),
    Figure("images_per_second", "Images/s", "count", lambda r: r.evaluation.get("images_per_second")),
)
VARIANT_HEADER = "Variant"


def figures(results: Results) -> dict[str, Any]:
    """One variant's summary figures, by key (None where it has none)."""
    return {figure.key: figure.value(results) for figure in FIGURES}


def short_labels(names: list[str], short_names: dict[str, str]) -> dict[str, str]:
    """Each variant's column in the summary: its report.short_names label, else its name."""
    labels = {name: short_names.get(name, name) for name in names}
    for name, label in labels.items():
        others = [other for other, other_label in labels.items() if other_label == label and other != name]
        others += [figure.key for figure in FIGURES if figure.key == label]
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
    regression gate, the pull-request comment, the leaderboard and the page. A figure a variant
    lacks is left out."""
    accuracies = {name: record["accuracy"] for name, record in records.items()}
    return error_percentages(accuracies, labels) | {
        figure.key: {name: record[figure.key] for name, record in records.items() if record.get(figure.key) is not None}
        for figure in FIGURES
    }


def leaderboard(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per variant of the summary, its figures as columns (NaN where it has none), best
    test accuracy first (ties keep the summary's order)."""
    names = list(summary["accuracy"])
    rows = [{"variant": name, **{figure.key: summary[figure.key].get(name) for figure in FIGURES}} for name in names]
    table = pd.DataFrame(rows, columns=["variant", *(figure.key for figure in FIGURES)])
    return table.sort_values("accuracy", ascending=False, kind="stable").reset_index(drop=True)


def cell(figure: Figure, value: Any) -> str:
    """A figure's value as the leaderboard writes it: "-" where the variant has none."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "-"
    return FORMATS[figure.format](value)


def leaderboard_table(summary: dict[str, Any]) -> str:
    """The leaderboard as a GitHub-flavoured Markdown table: results/leaderboard.md's and the README's."""
    lines = [
        "| " + " | ".join([VARIANT_HEADER, *(figure.header for figure in FIGURES)]) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(FIGURES)) + "|",
    ]
    for row in leaderboard(summary).to_dict("records"):
        lines.append("| " + " | ".join([row["variant"], *(cell(figure, row[figure.key]) for figure in FIGURES)]) + " |")
    return "\n".join(lines)


def ranks(accuracies: dict[str, float]) -> dict[str, int]:
    """Each variant's place, best first; equal accuracies share the better place."""
    return {name: 1 + sum(other > accuracy for other in accuracies.values()) for name, accuracy in accuracies.items()}


def label_review_markdown(evaluations: dict[str, dict[str, Any]], excluded: int) -> str:
    """Does the review of the test labels (labels/corrections.csv) change the ranking? Each model's
    place and accuracy against MNIST's published labels and against the reviewed ones, and the
    paired test on the relabelled digits: the same answers, right under one label set only."""
    reviewed = {name: evaluation["accuracy"] for name, evaluation in evaluations.items()}
    labelled = {name: evaluation.get("slices", {}).get("published_labels") for name, evaluation in evaluations.items()}
    if any(figures is None or "paired_p_value" not in figures for figures in labelled.values()):
        return ""  # evaluations written before the paired counts
    published = {name: figures["accuracy"] for name, figures in labelled.items()}
    relabelled = max(figures["relabelled"] for figures in labelled.values())
    lines = ["## Does the label review change the ranking?", ""]
    if not relabelled and not excluded:
        return "\n".join(
            [*lines, "No test label is corrected (labels/corrections.csv): one label set, one ranking.", ""]
        )
    before, after = ranks(published), ranks(reviewed)
    moved = [name for name in evaluations if before[name] != after[name]]
    lines.append(
        f"labels/corrections.csv relabels {relabelled} test digits and excludes {excluded}. The same answers scored "
        "against MNIST's published labels and against the reviewed ones: "
        + (
            "the order is unchanged."
            if not moved
            else "the order changes: " + ", ".join(f"{name} {before[name]} → {after[name]}" for name in moved) + "."
        )
        + " The paired test is McNemar's exact test on the relabelled digits, where alone the two label sets differ."
    )
    lines += [
        "",
        "| Variant | Place | Published labels | Reviewed labels | Moved (points) "
        "| Relabelled digits read as reviewed / as published | Paired p |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sorted(evaluations, key=lambda name: (after[name], before[name])):
        place = str(after[name]) if before[name] == after[name] else f"{before[name]} → {after[name]}"
        figures = labelled[name]
        lines.append(
            f"| {name} | {place} | {published[name]:.2%} | {reviewed[name]:.2%} "
            f"| {100 * (reviewed[name] - published[name]):+.2f} "
            f"| {figures['right_only_against_reviewed']} / {figures['right_only_against_published']} "
            f"| {figures['paired_p_value']:.3g} |"
        )
    return "\n".join([*lines, ""])


def leaderboard_markdown(summary: dict[str, Any], label_review: str = "") -> str:
    """results/leaderboard.md (pull-request comments render it)."""
    return (
        "# Leaderboard (MNIST test set)\n\n"
        + leaderboard_table(summary)
        + "\n"
        + (f"\n{label_review}" if label_review else "")
    )


def page_columns() -> list[dict[str, str]]:
    """The leaderboard's columns as the page reads them from data.json: key, header and format."""
    return [{"key": figure.key, "header": figure.header, "format": figure.format} for figure in FIGURES]
