"""A model as ONNX, and the proof that the export gives its Keras model's answers: Keras' own ONNX
export (through tf2onnx, so TensorFlow), of the model stripped of its training-only random layers,
compared image by image with the original under ONNX Runtime."""

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np


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


def export_onnx(model: keras.Model, path: Path) -> None:
    """Write `model`, as it infers (`for_inference`), to `path` as ONNX. Keras' tf2onnx bridge asks
    NumPy for `np.object`, which NumPy answers with a FutureWarning meant for tf2onnx's authors; it is
    silenced here, and only here."""
    inference = for_inference(model)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="In the future `np.object`", category=FutureWarning)
        inference.export(str(path), format="onnx", verbose=False)
