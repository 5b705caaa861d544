"""One model judged, returned rather than written: its evaluation record (the classification
metrics, calibration, slices, validation figures) and the arrays the figures and the paired tests
are made from. stages/evaluate.py writes them; a test or a notebook calls `evaluate_model`.

The model is any function of images: the stage hands it the ONNX export through ONNX Runtime (the
model `mnist-predict` ships, checked against its Keras original by the export stage), so judging
imports neither TensorFlow nor Keras; a notebook can hand it a Keras model's `predict`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mnist_zoo.data.dataset import load_metadata, load_split
from mnist_zoo.evaluation import calibration, scoring, slices


class Evaluation(NamedTuple):
    """What evaluate writes: the record (metrics/evaluation/<name>.json), and the test split with the
    model's probabilities on it, on the validation split, and its digit per test image."""

    record: dict[str, Any]
    images: np.ndarray  # the test images, (N, 28, 28, 1) uint8
    labels: np.ndarray  # as used (after labels/corrections.csv)
    published: np.ndarray  # as MNIST published them
    writers: np.ndarray
    probabilities: np.ndarray  # on the test images
    validation_probabilities: np.ndarray
    predictions: np.ndarray  # its digit per test image


def evaluate_model(
    predict: Callable[[np.ndarray], np.ndarray], prepared_dir: Path, training: dict[str, Any], settings: dict[str, Any]
) -> Evaluation:
    """Judge a model on prepared_dir's test, validation and your writers' splits. `predict` maps
    (N, 28, 28, 1) float32 images (0-255) to (N, 10) probabilities; `training` is the model's
    training summary (seconds, epochs, parameters), `settings` params.yaml's `evaluate`."""
    images, labels = load_split(prepared_dir / "test.npz")
    published, ids, writers, groups = load_metadata(prepared_dir / "test.npz", "published", "ids", "writers", "groups")
    validation_images, validation_labels = load_split(prepared_dir / "validation.npz")
    own_images, own_labels = load_split(prepared_dir / "own.npz")
    own_ids, own_writers = load_metadata(prepared_dir / "own.npz", "ids", "writers")

    probabilities, images_per_second = scoring.predict_timed(predict, images.astype(np.float32))
    validation_probabilities = np.asarray(predict(validation_images.astype(np.float32)))
    predictions = probabilities.argmax(axis=1)
    own_predictions = (
        np.asarray(predict(own_images.astype(np.float32))).argmax(axis=1) if len(own_labels) else np.zeros(0, dtype=int)
    )
    calibrated = calibration.calibration_report(
        probabilities, labels, validation_probabilities, validation_labels, settings["calibration_bins"]
    )
    record = scoring.classification_metrics(labels, probabilities) | {
        "parameters": training["parameters"],
        "training_seconds": training["training_seconds"],
        "epochs_run": training["epochs_run"],
        "images_per_second": round(images_per_second, 1),
        "calibration": calibrated,
        "slices": slices.slice_report(
            labels, published, predictions, writers, groups, ids, settings["num_worst_writers"]
        )
        | {"own": slices.own_report(own_labels, own_predictions, own_ids, own_writers)},
        # What a search chooses on (stages/scores.py puts it in git beside the test figures).
        "validation": {
            key: value
            for key, value in scoring.classification_metrics(validation_labels, validation_probabilities).items()
            if key in ("accuracy", "loss")
        },
    }
    return Evaluation(record, images, labels, published, writers, probabilities, validation_probabilities, predictions)
