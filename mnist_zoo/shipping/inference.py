"""Classifiers: a saved model as a function from a batch of MNIST-format images, (N, 28, 28, 1)
float32 0-255, to (N, 10) probabilities. The ONNX one imports only ONNX Runtime and NumPy, never
TensorFlow or Keras, so a serving machine needs neither."""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_zoo.config import PREDICT_BATCH_SIZE

Classifier = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 0-255 -> (N, 10)


def onnx_classifier(path: Path) -> Classifier:
    """Probabilities from an exported model with ONNX Runtime (its CPU provider)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return lambda images: session.run(None, {input_name: images.astype(np.float32)})[0]


def keras_classifier(path: Path) -> Classifier:
    """Probabilities from a saved Keras model (call mnist_zoo.runtime.start first)."""
    import logging

    import keras  # only the Keras path pays for the training stack

    # --all loads several models, whose predict functions TensorFlow warns it traces one by one.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    model = keras.saving.load_model(path)
    return lambda images: np.asarray(model.predict(images, batch_size=256, verbose=0))


def predict_in_batches(classify: Classifier, images: np.ndarray) -> np.ndarray:
    """`classify` over `images` a batch at a time, as one array of probabilities."""
    return np.concatenate(
        [classify(images[start : start + PREDICT_BATCH_SIZE]) for start in range(0, len(images), PREDICT_BATCH_SIZE)]
    )
