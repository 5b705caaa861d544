"""What one benchmark measurement does, in the process `bench.worker` started with the right Keras
backend: train a variant the posts' way (`plain`), through the project's path with Keras' own epoch
loop (`landed`) or the compiled one (`project`), timing each epoch; or time a large matrix product.
"""

import math
import time
from typing import Any

import keras
import numpy as np

from mnist_zoo.config import PREPARED_DIR
from mnist_zoo.data.dataset import load_split
from mnist_zoo.models.families import build_model
from mnist_zoo.params import load_params, variant_spec
from mnist_zoo.training import trainer
from mnist_zoo.training.devices import choose_plan, distribution_scope, plan_for
from mnist_zoo.training.trainer import fit, trainee_for


class EpochClock(trainer.EpochClock):
    """Times each epoch; with test data, also records test accuracy (untimed) and stops once
    `stop_at` is reached."""

    def __init__(self, test_data: tuple[np.ndarray, np.ndarray] | None, stop_at: float) -> None:
        super().__init__()
        self.test_data, self.stop_at = test_data, stop_at
        self.history: list[dict[str, float]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
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
    return 2 * size**3 / best / 1e9


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
        # As the train stage does (a recipe with weight averaging is judged on its averaged weights),
        # without validation or early stopping: every epoch of the budget is timed.
        fit(
            trainee,
            {**spec, "epochs": epochs},
            (inputs, train_labels),
            None,
            None,
            [clock],
            plan,
            loop="compiled" if path == "project" else "keras",
        )
    return {
        "backend": keras.backend.backend(),
        "images": len(inputs),
        "epoch_seconds": clock.epoch_seconds,
        "history": clock.history,
        "training_flops_per_image": training_flops_per_image(model),
    }
