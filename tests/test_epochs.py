"""mnist_zoo/training/epochs.py: the compiled epoch loop trains as Keras' own loop does (JAX: the same
weights and curves, with dropout, a short last batch, weight averaging and early stopping;
TensorFlow: every image once an epoch, in a seeded order that changes each epoch)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_zoo.training import epochs
from tests.conftest import PROJECT_ROOT

# Run under JAX in a process of its own (the backend is fixed when Keras is imported): both loops
# from the same seed on 300 random images, batch 32 (9 full batches and a short one of 12).
# argv: the optimizer's extra options as JSON, then the loops.
JAX_BOTH_LOOPS = """
import json, sys
import keras, numpy as np
from mnist_zoo.training.devices import choose_plan
from mnist_zoo.models.families import build_model
from mnist_zoo.training.trainer import fit, seed_everything

spec = {"family": "convnet", "conv_layers": [{"filters": 4, "kernel_size": 3, "pool": True}],
        "dense_layers": [{"units": 16, "dropout": 0.25}], "activation": "relu",
        "optimizer": {"name": "adam", "use_ema": True, "ema_momentum": 0.9}, "batch_size": 32, "epochs": 6}
rng = np.random.default_rng(0)
images, labels = rng.integers(0, 256, (364, 28, 28, 1)).astype(np.uint8), rng.integers(0, 10, 364).astype(np.int32)
spec["optimizer"].update(json.loads(sys.argv[1]))
plan = choose_plan("jax", "cpu", 1, False, "float32", 32)

class Calls(keras.callbacks.Callback):
    count = 0
    def on_train_batch_end(self, batch, logs=None):
        Calls.count += 1

result = {}
for loop in sys.argv[2:]:
    seed_everything(1)
    model, Calls.count = build_model(spec), 0
    summary = fit(model, spec, (images[:300], labels[:300]), (images[300:], labels[300:]), 2, [Calls()], plan, loop)
    result[loop] = {"summary": {k: v for k, v in summary.items() if k != "training_seconds"},
                    "history": model.history.history, "calls": Calls.count,
                    "weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(result))
"""


def run_jax(*loops: str, optimizer_options: dict | None = None) -> dict:
    environment = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", JAX_BOTH_LOOPS, json.dumps(optimizer_options or {}), *loops],
        capture_output=True,
        text=True,
        env=environment,
        cwd=PROJECT_ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both_loops() -> dict:
    """Both loops with the plain optimizer: one subprocess for the tests that compare against them."""
    return run_jax("keras", "compiled")


@pytest.mark.slow
def test_jax_epoch_scan_trains_as_keras_own_loop_does(both_loops: dict):
    keras_loop, compiled = both_loops["keras"], both_loops["compiled"]
    assert compiled["summary"] == keras_loop["summary"]  # epochs run, best epoch, parameters
    assert keras_loop["summary"]["epochs_run"] < 6  # early stopping did stop it (random labels)
    for key, curve in keras_loop["history"].items():  # train and validation curves, every epoch
        np.testing.assert_allclose(compiled["history"][key], curve, rtol=1e-5, err_msg=key)
    for one, two in zip(keras_loop["weights"], compiled["weights"], strict=True):  # the best epoch's averaged weights
        np.testing.assert_allclose(np.array(one), np.array(two), atol=1e-6)
    # Keras' loop returns to Python after each of the 10 steps of an epoch; the scan once an epoch.
    assert keras_loop["calls"] == 10 * keras_loop["summary"]["epochs_run"]
    assert compiled["calls"] == compiled["summary"]["epochs_run"]


@pytest.mark.slow
def test_jax_epoch_scan_accumulates_gradients_as_keras_own_loop_does(both_loops: dict):
    """optimizer.gradient_accumulation_steps, which the schema allows: the scan runs Keras' own
    train step, so it updates every second step as Keras' loop does."""
    plain = both_loops["compiled"]
    runs = run_jax("keras", "compiled", optimizer_options={"gradient_accumulation_steps": 2})
    keras_loop, compiled = runs["keras"], runs["compiled"]
    assert compiled["summary"] == keras_loop["summary"]
    for one, two in zip(keras_loop["weights"], compiled["weights"], strict=True):
        np.testing.assert_allclose(np.array(one), np.array(two), atol=1e-6)
    assert not all(
        np.allclose(one, two) for one, two in zip(plain["weights"], compiled["weights"], strict=True)
    )  # it did


@pytest.mark.slow
def test_jax_epoch_scan_is_deterministic(both_loops: dict):
    first, second = both_loops["compiled"], run_jax("compiled")["compiled"]  # two processes
    assert first["weights"] == second["weights"] and first["history"] == second["history"]


def batches_of(dataset, count: int) -> list[np.ndarray]:
    return [labels.numpy() for _, labels in dataset.take(count)]


def test_tensorflow_pipeline_shows_every_image_once_an_epoch_in_a_new_seeded_order():
    pytest.importorskip("tensorflow")
    labels = np.arange(100, dtype=np.int32)  # each image's label is its index
    images = np.repeat(labels.astype(np.uint8), 784).reshape(100, 28, 28, 1)
    steps = epochs.steps_per_epoch(100, 32)
    assert steps == 4
    batches = batches_of(epochs.repeating_dataset(images, labels, 32, seed=5), 3 * steps)
    assert [len(batch) for batch in batches] == [32, 32, 32, 4] * 3  # the last one short, as Keras cuts
    orders = [np.concatenate(batches[epoch * steps : (epoch + 1) * steps]) for epoch in range(3)]
    for order in orders:
        assert sorted(order) == list(range(100))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    again = batches_of(epochs.repeating_dataset(images, labels, 32, seed=5), 3 * steps)
    other = batches_of(epochs.repeating_dataset(images, labels, 32, seed=6), steps)
    assert all(np.array_equal(one, two) for one, two in zip(batches, again, strict=True))
    assert not np.array_equal(np.concatenate(other), orders[0])
    images_seen = next(iter(epochs.repeating_dataset(images, labels, 32, seed=5)))[0].numpy()
    np.testing.assert_array_equal(images_seen[:, 0, 0, 0], batches[0])  # images stay with their labels


def test_a_distributed_fit_keeps_keras_own_loop_and_an_unknown_loop_is_refused():
    assert epochs.loop_for("compiled", 1, 1) == "compiled" and epochs.loop_for("keras", 1, 1) == "keras"
    assert epochs.loop_for("compiled", 2, 1) == epochs.loop_for("compiled", 1, 2) == "keras"
    with pytest.raises(ValueError, match=r"loop is 'fast'; valid options: \['compiled', 'keras'\]"):
        epochs.loop_for("fast", 1, 1)
