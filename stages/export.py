"""Export one trained variant to ONNX and prove the export gives its Keras model's answers.

Reads data/models/<name>.keras and data/prepared/test.npz; writes data/export/<name>.onnx (Keras'
own ONNX export) and metrics/export/<name>.json: on the whole test set, the share of images on
which ONNX Runtime predicts the same digit, the largest probability difference and both
accuracies. An export below `export.min_agreement` fails the stage and is not kept.
Run alone: `python -m stages.export lenet5` (or `dvc repro export@lenet5`).
"""

import argparse
import logging
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # Keras' ONNX export goes through tf2onnx
import keras  # noqa: E402
import numpy as np  # noqa: E402

from stages.config import atomic_path, check_variant_name, load_params, write_json  # noqa: E402
from stages.predict import onnx_classifier  # noqa: E402

log = logging.getLogger("export")

PREDICT_BATCH_SIZE = 1000


def parity(labels: np.ndarray, keras_probabilities: np.ndarray, onnx_probabilities: np.ndarray) -> dict[str, Any]:
    """How closely the export follows the original, image by image."""
    keras_digits, onnx_digits = keras_probabilities.argmax(axis=1), onnx_probabilities.argmax(axis=1)
    return {
        "num_images": int(len(labels)),
        "agreement": round(float(np.mean(keras_digits == onnx_digits)), 6),
        "num_disagreements": int(np.sum(keras_digits != onnx_digits)),
        "max_probability_difference": float(f"{np.abs(keras_probabilities - onnx_probabilities).max():.3g}"),
        "keras_accuracy": round(float(np.mean(keras_digits == labels)), 6),
        "onnx_accuracy": round(float(np.mean(onnx_digits == labels)), 6),
    }


def for_inference(model: keras.Model) -> keras.Model:
    """`model` without its random augmentation layers, sharing every other layer and its weights.
    Those layers (RandomTranslation, ...) are the identity at inference, but the export would trace
    their random ops into the graph, which ONNX Runtime cannot load."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        return keras.layers.Identity(name=layer.name) if type(layer).__name__.startswith("Random") else layer

    inference = keras.models.clone_model(model, clone_function=clone)
    inference(np.zeros((1, *model.input_shape[1:]), dtype=np.float32))  # the export traces a called model
    return inference


def predict_in_batches(classify: Any, images: np.ndarray) -> np.ndarray:
    return np.concatenate([classify(images[start: start + PREDICT_BATCH_SIZE])
                           for start in range(0, len(images), PREDICT_BATCH_SIZE)])


def check_min_agreement(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"export.min_agreement must be a number in (0, 1], e.g. 0.9999; got {value!r}.")
    return float(value)


def main(name: str, prepared_dir: Path = Path("data/prepared"), models_dir: Path = Path("data/models"),
         export_dir: Path = Path("data/export"), metrics_dir: Path = Path("metrics/export")) -> dict[str, Any]:
    check_variant_name(name)
    min_agreement = check_min_agreement(load_params().get("export", {}).get("min_agreement"))
    with np.load(prepared_dir / "test.npz") as arrays:
        images = arrays["images"][..., np.newaxis].astype(np.float32)
        labels = arrays["labels"].astype(np.int64)
    model = keras.saving.load_model(models_dir / f"{name}.keras")
    keras_probabilities = np.asarray(model.predict(images, batch_size=PREDICT_BATCH_SIZE, verbose=0))

    with atomic_path(export_dir / f"{name}.onnx") as temp_path:
        for_inference(model).export(str(temp_path), format="onnx", verbose=False)
        results = parity(labels, keras_probabilities, predict_in_batches(onnx_classifier(temp_path), images))
        if results["agreement"] < min_agreement:
            raise ValueError(
                f"{name}: the ONNX export predicts another digit than the Keras model on "
                f"{results['num_disagreements']} of {results['num_images']} test images (agreement "
                f"{results['agreement']:.4%}, export.min_agreement {min_agreement:.4%}); nothing written.")
    write_json(metrics_dir / f"{name}.json", results)
    log.info("%s: wrote %s; same digit on %.4f of %d test images, largest probability difference %.2g, "
             "accuracy %.4f (Keras %.4f)", name, export_dir / f"{name}.onnx", results["agreement"],
             results["num_images"], results["max_probability_difference"], results["onnx_accuracy"],
             results["keras_accuracy"])
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    main(parser.parse_args().variant)
