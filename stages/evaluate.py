"""Evaluate one trained variant on the held-out test set: its classification metrics, its
calibration (before and after a temperature fitted on the validation split), its predicted digit
for every test image (for paired tests between revisions), a confusion matrix, a reliability
diagram, a grid of its most confident mistakes, and its slices: each writer group (employees,
students), each writer (the spread; the worst writers and their digits), the published labels
beside the corrected ones, and your writers (digits/, as preprocess put them in own.npz).

The model judged is the ONNX export (ship/dvc.yaml's export@<name>, which checked it against the
Keras model on every test image), scored by ONNX Runtime: the model `mnist-predict` and the page
ship, and no TensorFlow to import (docs/speed.md). `--model keras` judges the saved Keras model
instead, on the variant's backend: the transfer variants (evaluate_transfer@), which are not
exported (tf2onnx turns the VGG16 base's Normalization constants into inputs the graph asks for).

Reads data/export/<name>.onnx (or data/models/<name>.keras), data/prepared/{validation,test,own}.npz
and the training summary; writes metrics/evaluation/<name>.json (the validation split's accuracy
and loss too), metrics/predictions/<name>.npy, metrics/probabilities/<name>.npz (its probabilities
on the validation and test digits),
plots/confusion/<name>.{csv,png}, plots/reliability/<name>.{csv,png}, plots/misclassified/<name>.png
and plots/writers/<name>.png.
Run alone: `python -m stages.evaluate lenet5` (or `dvc repro evaluate@lenet5`).
"""

import argparse
import io
import json
import logging
from typing import Any

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_backend, variant_spec

log = logging.getLogger("evaluate")


# What `--model` names: the file judged, and how it is read.
MODELS = {"onnx": "the ONNX export", "keras": "the saved Keras model"}


def main(name: str, model: str = "onnx") -> dict[str, Any]:
    params = load_params()
    variant_spec(params, name)  # an unknown name stops here, before any file is read
    if model not in MODELS:
        raise ValueError(f"--model {model!r}: allowed {sorted(MODELS)} (the ONNX export, or the Keras model).")
    from mnist_zoo.evaluation import calibration, scoring, slices
    from mnist_zoo.evaluation.record import evaluate_model
    from mnist_zoo.figures import save_figure
    from mnist_zoo.files import atomic_write_bytes, write_json, write_npz
    from mnist_zoo.shipping.inference import keras_classifier, onnx_classifier, predict_in_batches

    num_bins = params["evaluate"]["calibration_bins"]
    classify = (
        onnx_classifier(config.EXPORT_DIR / f"{name}.onnx")
        if model == "onnx"
        else keras_classifier(config.MODELS_DIR / f"{name}.keras")
    )
    training = json.loads((config.TRAINING_METRICS_DIR / name / "metrics.json").read_text())
    judged = evaluate_model(
        lambda batch: predict_in_batches(classify, batch), config.PREPARED_DIR, training, params["evaluate"]
    )
    (results, images, labels, published, writers, probabilities, validation_probabilities, predictions) = judged
    calibrated, images_per_second = results["calibration"], results["images_per_second"]
    write_json(config.EVALUATION_DIR / f"{name}.json", results)
    buffer = io.BytesIO()
    np.save(buffer, predictions.astype(np.uint8))
    atomic_write_bytes(config.PREDICTIONS_DIR / f"{name}.npy", buffer.getvalue())
    write_npz(
        config.PROBABILITIES_DIR / f"{name}.npz",
        validation=validation_probabilities.astype(np.float32),
        test=probabilities.astype(np.float32),
    )
    atomic_write_bytes(config.CONFUSION_DIR / f"{name}.csv", scoring.confusion_csv(labels, predictions))
    title = f"{name}: test confusion matrix (accuracy {results['accuracy']:.2%})"
    save_figure(scoring.plot_confusion(labels, predictions, title), config.CONFUSION_DIR / f"{name}.png")

    bins = calibration.reliability(probabilities, labels, num_bins)
    scaled = calibration.reliability(
        calibration.with_temperature(probabilities, calibrated["temperature"]), labels, num_bins
    )
    atomic_write_bytes(config.RELIABILITY_DIR / f"{name}.csv", calibration.reliability_csv(bins))
    title = (
        f"{name}: ECE {calibrated['ece']:.4f}, after temperature {calibrated['temperature']:.2f}: "
        f"{calibrated['ece_after_temperature']:.4f}"
    )
    save_figure(scoring.plot_reliability(bins, scaled, title), config.RELIABILITY_DIR / f"{name}.png")

    worst = scoring.worst_misclassified(labels, probabilities, params["evaluate"]["num_misclassified"])
    title = f"{name}: most confident mistakes ({len(worst)} of {int((predictions != labels).sum())} errors)"
    save_figure(
        scoring.plot_misclassified(images, labels, probabilities, worst, title, published),
        config.MISCLASSIFIED_DIR / f"{name}.png",
    )
    title = f"{name}: the test writers it reads worst"
    save_figure(
        slices.plot_worst_writers(images, labels, predictions, writers, results["slices"], title),
        config.WRITERS_DIR / f"{name}.png",
    )
    groups_read = results["slices"]["groups"]
    log.info(
        "%s: employees' digits %.4f, students' %.4f, the worst writer's %.4f, against the published labels %.4f",
        name,
        groups_read["employees"]["accuracy"],
        groups_read["students"]["accuracy"],
        results["slices"]["writers"]["min_accuracy"],
        results["slices"]["published_labels"]["accuracy"],
    )
    own = results["slices"]["own"]
    if own["images"]:
        log.info("%s: your writers' %d digits %.4f", name, own["images"], own["accuracy"])
    log.info(
        "%s: test accuracy %.4f, loss %.4f, macro F1 %.4f, ECE %.4f (%.4f at temperature %.2f), %.0f images/s",
        name,
        results["accuracy"],
        results["loss"],
        results["f1_macro"],
        calibrated["ece"],
        calibrated["ece_after_temperature"],
        calibrated["temperature"],
        images_per_second,
    )
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants (or train.transfer_variants)")
    parser.add_argument("--model", choices=sorted(MODELS), default="onnx", help="the file judged (default: onnx)")
    arguments = parser.parse_args()
    # Only the Keras model needs Keras, on the backend its variant names.
    spec = variant_spec(load_params(), arguments.variant)
    runtime.start(variant_backend(spec) if arguments.model == "keras" else None)
    main(arguments.variant, arguments.model)
