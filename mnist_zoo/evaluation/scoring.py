"""How one model does on the test set: the classification metrics, the confusion matrix (as DVC's
confusion template reads it, and as a heat map) and a grid of its most confident mistakes."""

import time
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnist_zoo.config import NUM_CLASSES, PREDICT_BATCH_SIZE
from mnist_zoo.evaluation.calibration import Reliability, log_loss


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Counts, (10, 10): row the true digit, column the predicted one."""
    pairs = np.asarray(labels, dtype=np.int64) * NUM_CLASSES + np.asarray(predictions, dtype=np.int64)
    return np.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES).reshape(NUM_CLASSES, NUM_CLASSES)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy, log loss, macro/weighted F1 and per-digit precision/recall/F1/support: scikit-learn's
    definitions (`precision_recall_fscore_support`, zero_division=0; a test holds them equal),
    counted from the confusion matrix with NumPy, as importing sklearn.metrics alone costs
    evaluate more than its scoring (docs/speed.md)."""
    classes = list(range(NUM_CLASSES))
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions)
    right, predicted, support = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, right / predicted, 0.0)
        recall = np.where(support > 0, right / support, 0.0)
        f1 = np.where(predicted + support > 0, 2 * right / (predicted + support), 0.0)
    return {
        "accuracy": round(float(right.sum() / max(len(labels), 1)), 6),
        "loss": round(log_loss(probabilities, labels), 6),
        "f1_macro": round(float(np.mean(f1)), 6),
        "f1_weighted": round(float(np.average(f1, weights=support)), 6) if support.sum() else 0.0,
        "per_class": {
            str(digit): {
                "precision": round(float(precision[digit]), 6),
                "recall": round(float(recall[digit]), 6),
                "f1": round(float(f1[digit]), 6),
                "support": int(support[digit]),
            }
            for digit in classes
        },
    }


def confusion_csv(labels: np.ndarray, predictions: np.ndarray) -> bytes:
    """One row per test image, the form DVC's `confusion` template counts."""
    rows = "".join(f"{actual},{predicted}\n" for actual, predicted in zip(labels, predictions, strict=True))
    return ("actual,predicted\n" + rows).encode()


def plot_confusion(labels: np.ndarray, predictions: np.ndarray, title: str) -> plt.Figure:
    """Confusion matrix heat map with the count in every cell."""
    matrix = confusion_matrix(labels, predictions)
    figure, axes = plt.subplots(figsize=(7, 6))
    # Log-ish colour scale via sqrt so the few off-diagonal errors are visible beside ~1000s.
    image = axes.imshow(np.sqrt(matrix), cmap="Blues")
    for actual in range(NUM_CLASSES):
        for predicted in range(NUM_CLASSES):
            count = matrix[actual, predicted]
            if count:
                dark = np.sqrt(count) > 0.6 * np.sqrt(matrix.max())
                axes.text(
                    predicted,
                    actual,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    axes.set(
        xticks=range(NUM_CLASSES), yticks=range(NUM_CLASSES), xlabel="Predicted digit", ylabel="True digit", title=title
    )
    figure.colorbar(image, ax=axes, label="sqrt(count)")
    figure.tight_layout()
    return figure


def worst_misclassified(labels: np.ndarray, probabilities: np.ndarray, count: int) -> np.ndarray:
    """Indices of the wrong predictions made with the highest confidence, most confident first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    indices: np.ndarray,
    title: str,
    published: np.ndarray | None = None,
) -> plt.Figure:
    """A grid of test images with true label, predicted label and the model's confidence; a digit
    whose label labels/corrections.csv changed says so in red, with MNIST's label."""
    columns = 5
    rows = max(1, -(-len(indices) // columns))
    figure, axes_grid = plt.subplots(rows, columns, figsize=(2 * columns, 2.2 * rows + 0.6), squeeze=False)
    for axes in axes_grid.flat:
        axes.axis("off")
    for axes, index in zip(axes_grid.flat, indices, strict=False):  # fewer mistakes than axes: the rest stay blank
        predicted = int(probabilities[index].argmax())
        axes.imshow(images[index].squeeze(), cmap="gray_r")
        corrected = published is not None and published[index] != labels[index]
        axes.set_title(
            f"true {labels[index]}, pred {predicted}\n{probabilities[index, predicted]:.1%} sure"
            + (f" (MNIST: {published[index]})" if corrected else ""),
            fontsize=9,
            color="firebrick" if corrected else "black",
        )
    if not len(indices):
        axes_grid.flat[0].text(0.5, 0.5, "no misclassified images", ha="center")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_reliability(bins: Reliability, scaled: Reliability, title: str) -> plt.Figure:
    """The reliability diagram: per confidence bin, the share predicted right against the mean
    confidence (a calibrated model sits on the diagonal), before and after temperature scaling,
    over a histogram of how many test images fell in each bin."""
    figure, (axes, counts) = plt.subplots(2, 1, figsize=(6, 7), sharex=True, height_ratios=(3, 1))
    axes.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    for reliability, label, style in ((bins, "as trained", "o-"), (scaled, "temperature-scaled", "s--")):
        filled = reliability.count > 0
        axes.plot(reliability.confidence[filled], reliability.accuracy[filled], style, markersize=4, label=label)
    axes.set(ylabel="Accuracy in the bin", xlim=(0, 1), ylim=(0, 1.02), title=title)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    counts.bar((bins.lower + bins.upper) / 2, bins.count, width=bins.upper - bins.lower, color="tab:blue", alpha=0.6)
    counts.set(xlabel="Top-label confidence", ylabel="Test images", yscale="log")
    counts.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def predict_timed(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> tuple[np.ndarray, float]:
    """`predict`'s class probabilities on `images` and its throughput (images/s), leaving out the
    first batch's one-off costs (a session's allocations, a graph's tracing)."""
    predict(images[:PREDICT_BATCH_SIZE])
    started = time.perf_counter()
    probabilities = np.asarray(predict(images))
    return probabilities, len(images) / (time.perf_counter() - started)
