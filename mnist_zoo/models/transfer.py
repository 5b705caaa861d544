"""VGG16 transfer: the frozen ImageNet base computes each image's features once (cached by the
features stage), then only the dense head trains on them, in seconds."""

import os
from pathlib import Path
from typing import Any

import keras

from mnist_zoo.models.families import build_model, validate_spec
from mnist_zoo.params import variant_spec

WEIGHTS_VARIABLE = "VGG16_WEIGHTS"
FEATURES_BATCH_SIZE = 256


def transfer_spec(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The variant's params, with $VGG16_WEIGHTS (a local weights file) taking precedence."""
    spec = variant_spec(params, name)
    validate_spec(name, spec)
    if spec["family"] != "vgg16_transfer":
        raise ValueError(
            f"{name} is of family {spec['family']!r}; the transfer stages are for "
            "vgg16_transfer (list it in train.variants instead)."
        )
    spec["weights"] = os.environ.get(WEIGHTS_VARIABLE) or spec.get("weights", "imagenet")
    if spec["weights"] not in (None, "imagenet") and not Path(spec["weights"]).is_file():
        raise ValueError(
            f"{WEIGHTS_VARIABLE} / {name}.weights is {spec['weights']!r}, which is not a "
            "file. Point it at vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5."
        )
    return spec


def build_pretrained(spec: dict[str, Any]) -> keras.Model:
    """The full model with the pretrained base, or a clear error if the weights cannot be had."""
    try:
        return build_model(spec)
    except Exception as error:  # noqa: BLE001 - Keras raises plain Exception on a failed download
        raise RuntimeError(
            f"Could not load the VGG16 ImageNet weights ({error}). On a machine with internet, "
            "Keras downloads them once (58 MB); offline, download "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 elsewhere and set "
            f"{WEIGHTS_VARIABLE}=/path/to/that/file."
        ) from error


def feature_extractor(model: keras.Model) -> keras.Model:
    """The full model up to its frozen base's flattened output (the layer named 'features')."""
    return keras.Model(model.inputs, model.get_layer("features").output)


def head(model: keras.Model) -> keras.Model:
    """The layers after 'features' as a model of their own (sharing the full model's weights)."""
    layers = model.layers[model.layers.index(model.get_layer("features")) + 1 :]
    inputs = keras.Input(model.get_layer("features").output.shape[1:])
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs)
