"""Evaluate one trained variant on the held-out test set.

Reads data/models/<name>.keras, data/prepared/test.npz and the training summary; writes
metrics/evaluation/<name>.json, plots/confusion/<name>.{csv,png} and plots/misclassified/<name>.png.
Run alone: `python -m stages.evaluate lenet5` (or `dvc repro evaluate@lenet5`).
"""

import argparse
import json
import logging
from typing import Any

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_spec

log = logging.getLogger("evaluate")


def main(name: str) -> dict[str, Any]:
    params = load_params()
    variant_spec(params, name)  # an unknown name stops here, before any file is read
    import keras

    from mnist_zoo import evaluation
    from mnist_zoo.dataset import load_split
    from mnist_zoo.figures import save_figure
    from mnist_zoo.files import atomic_write_bytes, write_json

    training = json.loads((config.TRAINING_METRICS_DIR / name / "metrics.json").read_text())
    images, labels = load_split(config.PREPARED_DIR / "test.npz")
    model = keras.saving.load_model(config.MODELS_DIR / f"{name}.keras")

    probabilities, images_per_second = evaluation.predict_timed(model, images)
    predictions = probabilities.argmax(axis=1)
    results = evaluation.classification_metrics(labels, probabilities) | {
        "parameters": model.count_params(),
        "training_seconds": training["training_seconds"],
        "epochs_run": training["epochs_run"],
        "images_per_second": round(images_per_second, 1),
    }
    write_json(config.EVALUATION_DIR / f"{name}.json", results)
    atomic_write_bytes(config.CONFUSION_DIR / f"{name}.csv", evaluation.confusion_csv(labels, predictions))
    title = f"{name}: test confusion matrix (accuracy {results['accuracy']:.2%})"
    save_figure(evaluation.plot_confusion(labels, predictions, title), config.CONFUSION_DIR / f"{name}.png")
    worst = evaluation.worst_misclassified(labels, probabilities, params["evaluate"]["num_misclassified"])
    title = f"{name}: most confident mistakes ({len(worst)} of {int((predictions != labels).sum())} errors)"
    save_figure(
        evaluation.plot_misclassified(images, labels, probabilities, worst, title),
        config.MISCLASSIFIED_DIR / f"{name}.png",
    )
    log.info(
        "%s: test accuracy %.4f, loss %.4f, macro F1 %.4f, %.0f images/s",
        name,
        results["accuracy"],
        results["loss"],
        results["f1_macro"],
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
