"""Evaluate one trained variant on the held-out test set: its classification metrics, its
calibration (before and after a temperature fitted on the validation split), its predicted digit
for every test image (for paired tests between revisions), a confusion matrix, a reliability
diagram, a grid of its most confident mistakes, and its slices: each writer group (employees,
students), each writer (the spread; the worst writers and their digits), the published labels
beside the corrected ones, and your writers (digits/, as preprocess put them in own.npz).

Reads data/models/<name>.keras, data/prepared/{validation,test,own}.npz and the training summary;
writes metrics/evaluation/<name>.json (the validation split's accuracy and loss too), metrics/predictions/<name>.npy,
metrics/probabilities/<name>.npz (its probabilities on the validation and test digits),
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
from mnist_zoo.params import load_params, variant_spec

log = logging.getLogger("evaluate")


def main(name: str) -> dict[str, Any]:
    params = load_params()
    variant_spec(params, name)  # an unknown name stops here, before any file is read
    import keras

    from mnist_zoo.evaluation import calibration, scoring, slices
    from mnist_zoo.evaluation.record import evaluate_model
    from mnist_zoo.figures import save_figure
    from mnist_zoo.files import atomic_write_bytes, write_json, write_npz

    num_bins = params["evaluate"]["calibration_bins"]
    training = json.loads((config.TRAINING_METRICS_DIR / name / "metrics.json").read_text())
    model = keras.saving.load_model(config.MODELS_DIR / f"{name}.keras")
    (results, images, labels, published, writers, probabilities, validation_probabilities, predictions) = (
        evaluate_model(model, config.PREPARED_DIR, training, params["evaluate"])
    )
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
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    arguments = parser.parse_args()
    runtime.start()
    main(arguments.variant)
