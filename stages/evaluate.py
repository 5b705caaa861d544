"""Evaluate one trained variant on the held-out test set.

Reads data/models/<name>.keras, data/prepared/test.npz and the training summary; writes
metrics/evaluation/<name>.json, plots/confusion/<name>.{csv,png} and plots/misclassified/<name>.png.
Run alone: `python -m stages.evaluate lenet5` (or `dvc repro evaluate@lenet5`).
"""

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on CI or servers
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as sklearn_metrics  # noqa: E402

from stages.config import atomic_write_bytes, check_variant_name, load_params, save_figure, write_json  # noqa: E402

log = logging.getLogger("evaluate")

NUM_CLASSES = 10
PREDICT_BATCH_SIZE = 1000


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy, log loss, macro/weighted F1 and per-digit precision/recall/F1/support."""
    classes = list(range(NUM_CLASSES))
    predictions = probabilities.argmax(axis=1)
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0)
    return {
        "accuracy": round(float(sklearn_metrics.accuracy_score(labels, predictions)), 6),
        "loss": round(float(sklearn_metrics.log_loss(labels, probabilities, labels=classes)), 6),
        "f1_macro": round(float(np.mean(f1)), 6),
        "f1_weighted": round(float(np.average(f1, weights=support)), 6) if support.sum() else 0.0,
        "per_class": {
            str(digit): {"precision": round(float(precision[digit]), 6),
                         "recall": round(float(recall[digit]), 6),
                         "f1": round(float(f1[digit]), 6), "support": int(support[digit])}
            for digit in classes
        },
    }


def confusion_csv(labels: np.ndarray, predictions: np.ndarray) -> bytes:
    """One row per test image, the form DVC's `confusion` template counts."""
    rows = "".join(f"{actual},{predicted}\n" for actual, predicted in zip(labels, predictions))
    return ("actual,predicted\n" + rows).encode()


def plot_confusion(labels: np.ndarray, predictions: np.ndarray, title: str) -> plt.Figure:
    """Confusion matrix heat map with the count in every cell."""
    matrix = sklearn_metrics.confusion_matrix(labels, predictions, labels=range(NUM_CLASSES))
    figure, axes = plt.subplots(figsize=(7, 6))
    # Log-ish colour scale via sqrt so the few off-diagonal errors are visible beside ~1000s.
    image = axes.imshow(np.sqrt(matrix), cmap="Blues")
    for actual in range(NUM_CLASSES):
        for predicted in range(NUM_CLASSES):
            count = matrix[actual, predicted]
            if count:
                dark = np.sqrt(count) > 0.6 * np.sqrt(matrix.max())
                axes.text(predicted, actual, str(count), ha="center", va="center", fontsize=8,
                          color="white" if dark else "black")
    axes.set(xticks=range(NUM_CLASSES), yticks=range(NUM_CLASSES), xlabel="Predicted digit",
             ylabel="True digit", title=title)
    figure.colorbar(image, ax=axes, label="sqrt(count)")
    figure.tight_layout()
    return figure


def worst_misclassified(labels: np.ndarray, probabilities: np.ndarray, count: int) -> np.ndarray:
    """Indices of the wrong predictions made with the highest confidence, most confident first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def plot_misclassified(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                       indices: np.ndarray, title: str) -> plt.Figure:
    """A grid of test images with true label, predicted label and the model's confidence."""
    columns = 5
    rows = max(1, -(-len(indices) // columns))
    figure, axes_grid = plt.subplots(rows, columns, figsize=(2 * columns, 2.2 * rows + 0.6),
                                     squeeze=False)
    for axes in axes_grid.flat:
        axes.axis("off")
    for axes, index in zip(axes_grid.flat, indices):
        predicted = int(probabilities[index].argmax())
        axes.imshow(images[index].squeeze(), cmap="gray_r")
        axes.set_title(f"true {labels[index]}, pred {predicted}\n"
                       f"{probabilities[index, predicted]:.1%} sure", fontsize=9)
    if not len(indices):
        axes_grid.flat[0].text(0.5, 0.5, "no misclassified images", ha="center")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def predict_timed(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, float]:
    """Class probabilities and inference throughput (images/s), excluding one-off tracing."""
    model.predict(images[:PREDICT_BATCH_SIZE], batch_size=PREDICT_BATCH_SIZE, verbose=0)
    started = time.perf_counter()
    probabilities = model.predict(images, batch_size=PREDICT_BATCH_SIZE, verbose=0)
    return probabilities, len(images) / (time.perf_counter() - started)


def main(name: str, num_misclassified: int | None = None) -> dict[str, Any]:
    check_variant_name(name)
    if num_misclassified is None:
        num_misclassified = load_params()["evaluate"]["num_misclassified"]
    if not isinstance(num_misclassified, int) or num_misclassified < 0:
        raise ValueError(f"evaluate.num_misclassified must be a non-negative integer, "
                         f"got {num_misclassified!r}.")
    training = json.loads(Path(f"metrics/training/{name}/metrics.json").read_text())
    with np.load("data/prepared/test.npz") as arrays:
        images, labels = arrays["images"][..., np.newaxis], arrays["labels"].astype(np.int64)
    model = keras.saving.load_model(f"data/models/{name}.keras")

    probabilities, images_per_second = predict_timed(model, images)
    predictions = probabilities.argmax(axis=1)
    results = classification_metrics(labels, probabilities) | {
        "parameters": model.count_params(),
        "training_seconds": training["training_seconds"],
        "epochs_run": training["epochs_run"],
        "images_per_second": round(images_per_second, 1),
    }
    write_json(Path(f"metrics/evaluation/{name}.json"), results)
    atomic_write_bytes(Path(f"plots/confusion/{name}.csv"), confusion_csv(labels, predictions))
    save_figure(plot_confusion(labels, predictions, f"{name}: test confusion matrix "
                               f"(accuracy {results['accuracy']:.2%})"),
                Path(f"plots/confusion/{name}.png"))
    worst = worst_misclassified(labels, probabilities, num_misclassified)
    save_figure(plot_misclassified(images, labels, probabilities, worst,
                                   f"{name}: most confident mistakes ({len(worst)} of "
                                   f"{int((predictions != labels).sum())} errors)"),
                Path(f"plots/misclassified/{name}.png"))
    log.info("%s: test accuracy %.4f, loss %.4f, macro F1 %.4f, %.0f images/s", name,
             results["accuracy"], results["loss"], results["f1_macro"], images_per_second)
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    main(parser.parse_args().variant)
