"""VGG16 transfer: cache the frozen base's features once, then train only the dense head on them.

`features` reads data/prepared/{train,validation}.npz and writes data/features/<name>.npz;
`train` writes data/models/<name>.keras (the whole model, base included, so `evaluate` treats it
like any other variant) and metrics/training/<name>/. Opt in through params.yaml
train.transfer_variants, then `dvc repro` (stages features@<name>, train_transfer@<name>).
"""

import argparse
import io
import logging
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from dvclive import Live

from stages.config import atomic_write_bytes, load_params, variant_spec
from stages.models import build_model, validate_spec
from stages.devices import plan_for
from stages.train import LiveCurves, early_stopping_patience, load_split, save_model, seed_everything, train

log = logging.getLogger("transfer")

WEIGHTS_VARIABLE = "VGG16_WEIGHTS"
FEATURES_BATCH_SIZE = 256


def transfer_spec(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The variant's params, with $VGG16_WEIGHTS (a local weights file) taking precedence."""
    spec = variant_spec(params, name)
    validate_spec(name, spec)
    if spec["family"] != "vgg16_transfer":
        raise ValueError(f"{name} is of family {spec['family']!r}; stages.transfer is for vgg16_transfer.")
    spec["weights"] = os.environ.get(WEIGHTS_VARIABLE) or spec.get("weights", "imagenet")
    if spec["weights"] not in (None, "imagenet") and not Path(spec["weights"]).is_file():
        raise ValueError(f"{WEIGHTS_VARIABLE} / {name}.weights is {spec['weights']!r}, which is not a "
                         "file. Point it at vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5.")
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
    return keras.Model(model.inputs, model.get_layer("features").output)


def head(model: keras.Model) -> keras.Model:
    """The layers after 'features' as a model of their own (sharing the full model's weights)."""
    layers = model.layers[model.layers.index(model.get_layer("features")) + 1:]
    inputs = keras.Input(model.get_layer("features").output.shape[1:])
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs)


def features_main(name: str, output_dir: Path = Path("data/features")) -> None:
    spec = transfer_spec(load_params(), name)
    extractor = feature_extractor(build_pretrained(spec))
    arrays = {}
    for split in ("train", "validation"):
        images, labels = load_split(Path(f"data/prepared/{split}.npz"))
        started = time.perf_counter()
        arrays[f"{split}_features"] = extractor.predict(images, batch_size=FEATURES_BATCH_SIZE, verbose=2)
        arrays[f"{split}_labels"] = labels
        log.info("%s: %s features %s in %.0f s", name, split, arrays[f"{split}_features"].shape,
                 time.perf_counter() - started)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(output_dir / f"{name}.npz", buffer.getvalue())


def train_main(name: str, features_dir: Path = Path("data/features")) -> dict[str, Any]:
    params = load_params()
    spec = transfer_spec(params, name)
    seed_everything(int(params["seed"]))
    model = build_pretrained(spec)
    with np.load(features_dir / f"{name}.npz") as arrays:
        train_data = (arrays["train_features"], arrays["train_labels"])
        validation_data = (arrays["validation_features"], arrays["validation_labels"])
    with Live(dir=f"metrics/training/{name}", dvcyaml=None, save_dvc_exp=False) as live:
        _, summary = train(spec, train_data, validation_data, early_stopping_patience(params, spec),
                           [LiveCurves(live)], plan_for(spec), model=head(model))
        summary["parameters"] = model.count_params()  # the whole model's, not just the head's
        live.summary.update(summary)
    save_model(model, Path(f"data/models/{name}.keras"))  # the head's trained weights are the model's
    log.info("%s: %s", name, summary)
    return summary


def main(step: str, name: str) -> None:
    """One of the two stages: 'features' (cache the base's output) or 'train' (fit the head)."""
    steps = {"features": features_main, "train": train_main}
    if step not in steps:
        raise ValueError(f"Unknown step {step!r}; valid options: {sorted(steps)}.")
    steps[step](name)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=["features", "train"])
    parser.add_argument("variant")
    arguments = parser.parse_args()
    main(arguments.step, arguments.variant)
