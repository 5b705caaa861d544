"""One benchmark measurement in a process of its own: `python -m bench.worker plain|landed|project
VARIANT`, or `python -m bench.worker matmul` for the machine's large-matrix-product rate.

`plain` is the posts' way (float32 arrays into Keras' own loop, TensorFlow, one device as built);
`project` is stages.train's path (the variant's backend and plan, the "compiled" epoch loop);
`landed` is the project path with Keras' own epoch loop, as it was before stages/epochs.py.

Prints one JSON line: the backend, the number of training images, the training arithmetic per
image, each epoch's seconds and, with --test-accuracy, each epoch's test accuracy. The Keras backend
is chosen before Keras is imported (it is fixed per process): TensorFlow for `plain` and `matmul`,
the variant's `backend` param for `project`.
"""

import argparse
import json
import math
import os
import sys
import time
from typing import Any

from stages.config import apply_backend, load_params, variant_spec

if __name__ == "__main__" and len(sys.argv) > 1:
    # Keras fixes its backend when first imported, so choose it now: the posts' backend for the
    # plain path whatever this shell says; the variant's param (or KERAS_BACKEND) for ours.
    if sys.argv[1] in ("plain", "matmul"):
        os.environ["KERAS_BACKEND"] = "tensorflow"
    elif len(sys.argv) > 2:
        apply_backend(sys.argv[2])

import keras  # noqa: E402
import numpy as np  # noqa: E402

from stages.devices import choose_plan, distribution_scope, plan_for  # noqa: E402
from stages.models import build_model  # noqa: E402
from stages.train import PREPARED_DIR, fit, load_split, trainee_for  # noqa: E402

PATHS = ("plain", "landed", "project")


class EpochClock(keras.callbacks.Callback):
    """Times each epoch; with test data, also records test accuracy (untimed) and stops once
    `stop_at` is reached."""

    def __init__(self, test_data: tuple[np.ndarray, np.ndarray] | None, stop_at: float) -> None:
        super().__init__()
        self.test_data, self.stop_at = test_data, stop_at
        self.epoch_seconds: list[float] = []
        self.history: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_seconds.append(time.perf_counter() - self.started)
        if self.test_data is None:
            return
        accuracy = float(self.model.evaluate(*self.test_data, batch_size=1000, verbose=0)[1])
        self.history.append({"epoch": epoch + 1, "seconds": sum(self.epoch_seconds), "test_accuracy": accuracy})
        print(f"epoch {epoch + 1}: {sum(self.epoch_seconds):.1f} s, test accuracy {accuracy:.4f}", flush=True)
        if accuracy >= self.stop_at:
            self.model.stop_training = True


def training_flops_per_image(model: keras.Model) -> int:
    """Floating-point operations to train on one image, by the usual estimate: three times the
    forward pass's (forward, then the backward pass's two products), counting the multiply-adds of
    the convs and dense layers (2 FLOPs each), which is where the arithmetic is."""
    forward = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            # Each output position (a conv's pixels; one for a dense layer) costs one multiply-add
            # per kernel weight feeding one output channel.
            output_positions = math.prod(layer.output.shape[1:-1])
            forward += 2 * output_positions * math.prod(layer.kernel.shape)
    return 3 * forward


def matmul_gflops(size: int = 4096, repeats: int = 5) -> float:
    """The best rate of one large float32 matrix product on this backend (oneDNN on TensorFlow):
    a practical ceiling for the conv and dense kernels, which are matrix products underneath."""
    left, right = keras.random.uniform((size, size), seed=0), keras.random.uniform((size, size), seed=1)
    keras.ops.convert_to_numpy(keras.ops.matmul(left, right))  # warm up: threads, caches
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(left, right))  # to numpy: wait for the result
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def measure(path: str, variant: str, epochs: int | None, images: int, test_accuracy: bool) -> dict[str, Any]:
    params = load_params()
    spec = variant_spec(params, variant)
    epochs = epochs or spec["epochs"]
    train_images, train_labels = load_split(PREPARED_DIR / "train.npz")
    if images:
        train_images, train_labels = train_images[:images], train_labels[:images]
    keras.utils.set_random_seed(int(params["seed"]))
    model = build_model(spec)
    test_data = load_split(PREPARED_DIR / "test.npz") if test_accuracy else None
    clock = EpochClock(test_data, stop_at=0.995)
    if path == "plain":
        # The posts' way: float32 arrays into model.fit on one device (our models scale 0-255
        # themselves); a plan that changes nothing, so the model trains as built.
        inputs = train_images.astype(np.float32)
        plan = choose_plan("tensorflow", "cpu", 1, False, "float32", spec["batch_size"])
    else:
        inputs, plan = train_images, plan_for(spec)
    with distribution_scope(plan):
        trainee = trainee_for(model, plan)
        # As stages.train does (a recipe with weight averaging is judged on its averaged weights),
        # without validation or early stopping: every epoch of the budget is timed.
        fit(trainee, {**spec, "epochs": epochs}, (inputs, train_labels), None, None, [clock], plan,
            loop="compiled" if path == "project" else "keras")
    return {"backend": keras.backend.backend(), "images": len(inputs), "epoch_seconds": clock.epoch_seconds,
            "history": clock.history, "training_flops_per_image": training_flops_per_image(model)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", choices=[*PATHS, "matmul"])
    parser.add_argument("variant", nargs="?", help="a name from train.variants (not for matmul)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--test-accuracy", action="store_true")
    arguments = parser.parse_args()
    if arguments.path == "matmul":
        print(json.dumps({"backend": keras.backend.backend(), "matmul_gflops": matmul_gflops()}))
        raise SystemExit
    if not arguments.variant:
        parser.error(f"{arguments.path} needs a variant name.")
    result = measure(arguments.path, arguments.variant, arguments.epochs, arguments.images,
                     arguments.test_accuracy)
    print(json.dumps(result))
