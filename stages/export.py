"""Export one trained variant to ONNX and prove the export gives its Keras model's answers.

Reads data/models/<name>.keras and data/prepared/test.npz; writes data/export/<name>.onnx (Keras'
own ONNX export) and metrics/export/<name>.json: on the whole test set, the share of images on
which ONNX Runtime predicts the same digit, the largest probability difference and both
accuracies. An export below `export.min_agreement` fails the stage and is not kept.
Run alone: `python -m stages.export lenet5` (or `dvc repro ship/dvc.yaml:export@lenet5`).
"""

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_spec

log = logging.getLogger("export")

# Keras' ONNX export goes through tf2onnx, so this stage always runs on TensorFlow.
EXPORT_BACKEND = "tensorflow"


def main(
    name: str,
    prepared_dir: Path = config.PREPARED_DIR,
    models_dir: Path = config.MODELS_DIR,
    export_dir: Path = config.EXPORT_DIR,
    metrics_dir: Path = config.EXPORT_METRICS_DIR,
) -> dict[str, Any]:
    params = load_params()
    variant_spec(params, name)  # an unknown name stops here, before any file is read
    min_agreement = params["export"]["min_agreement"]
    import keras

    from mnist_zoo.data.dataset import load_split
    from mnist_zoo.files import atomic_path, write_json
    from mnist_zoo.shipping.inference import onnx_classifier, predict_in_batches
    from mnist_zoo.shipping.onnx_export import export_onnx, parity

    images, labels = load_split(prepared_dir / "test.npz")
    images = images.astype(np.float32)
    model = keras.saving.load_model(models_dir / f"{name}.keras")
    keras_probabilities = np.asarray(model.predict(images, batch_size=config.PREDICT_BATCH_SIZE, verbose=0))

    with atomic_path(export_dir / f"{name}.onnx") as temp_path:
        export_onnx(model, temp_path)
        results = parity(labels, keras_probabilities, predict_in_batches(onnx_classifier(temp_path), images))
        if results["agreement"] < min_agreement:
            raise ValueError(
                f"{name}: the ONNX export predicts another digit than the Keras model on "
                f"{results['num_disagreements']} of {results['num_images']} test images (agreement "
                f"{results['agreement']:.4%}, export.min_agreement {min_agreement:.4%}); nothing written."
            )
    write_json(metrics_dir / f"{name}.json", results)
    log.info(
        "%s: wrote %s; same digit on %.4f of %d test images, largest probability difference %.2g, "
        "accuracy %.4f (Keras %.4f)",
        name,
        export_dir / f"{name}.onnx",
        results["agreement"],
        results["num_images"],
        results["max_probability_difference"],
        results["onnx_accuracy"],
        results["keras_accuracy"],
    )
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    arguments = parser.parse_args()
    runtime.start(EXPORT_BACKEND)
    main(arguments.variant)
