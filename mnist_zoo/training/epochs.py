"""How a fit's epochs run: what `model.fit` is given, per backend.

Two loops, chosen by `mnist_zoo.training.trainer.fit`'s `loop` (the benchmark times one against the other):

- "keras": NumPy arrays straight into `model.fit`, as the posts do. Keras makes a new input
  iterator every epoch (on TensorFlow a new `tf.data` pipeline, whose start-up leaves the CPU
  idle between epochs) and, on JAX, returns to Python after every step.
- "compiled" (the default): on TensorFlow one repeating `tf.data` pipeline (shuffled afresh each
  epoch from a seed, batched, prefetched) read for `steps_per_epoch` steps, and the validation data
  batched once; on JAX one compiled `lax.scan` over Keras' own train step per epoch, so Python
  is visited once an epoch instead of once a step. Validation, early stopping, the weights' moving
  average and the DVCLive curves run in Keras' callbacks at each epoch's end, as with "keras".
  Several devices or processes (Keras splits each batch over them itself), and PyTorch, keep
  Keras' own loop.
"""

import itertools
import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

LOOPS = ("compiled", "keras")


def steps_per_epoch(num_images: int, batch_size: int) -> int:
    return math.ceil(num_images / batch_size)


def loop_for(loop: str, num_devices: int, num_processes: int) -> str:
    """The loop a fit asked for `loop` runs: "compiled" only on one device in one process (a
    distributed fit is Keras' to split, batch by batch) and on TensorFlow or JAX."""
    if loop not in LOOPS:
        raise ValueError(f"loop is {loop!r}; valid options: {list(LOOPS)}.")
    single = num_devices == 1 and num_processes == 1
    return loop if single and keras.backend.backend() in ("tensorflow", "jax") else "keras"


def compile_for_loop(
    model: keras.Model,
    loop: str,
    num_images: int,
    batch_size: int,
    plan_steps: int,
    compile_model: Callable[[int], None],
) -> int:
    """Compile `model` for `loop` (from `loop_for`) by calling `compile_model(steps_per_execution)`,
    and return that number of steps: on JAX's compiled loop a whole epoch, the scan then installed
    as the model's train function; otherwise the plan's `plan_steps`."""
    scan = loop == "compiled" and keras.backend.backend() == "jax"
    steps = steps_per_epoch(num_images, batch_size) if scan else plan_steps
    compile_model(steps)
    if scan:
        install_epoch_scan(model)
    return steps


def fit_inputs(
    loop: str,
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """`model.fit`'s data arguments for `loop` (from `loop_for`): arrays for Keras to batch, or
    (TensorFlow, "compiled") a repeating pipeline and its `steps_per_epoch`. `seed` fixes the
    shuffle order."""
    if loop == "keras" or keras.backend.backend() != "tensorflow":
        return {
            "x": train_data[0],
            "y": train_data[1],
            "batch_size": batch_size,
            "shuffle": True,
            "validation_data": validation_data,
        }
    return {
        "x": repeating_dataset(*train_data, batch_size, seed),
        "shuffle": False,  # it shuffles itself
        "steps_per_epoch": steps_per_epoch(len(train_data[0]), batch_size),
        "validation_data": None if validation_data is None else batched_dataset(*validation_data, batch_size),
    }


def repeating_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
    """Every epoch a fresh seeded permutation of the images, cut into batches (the last one
    short, as Keras cuts arrays), repeating without end; `fit` reads `steps_per_epoch` batches an
    epoch, so each epoch sees every image once. Shuffles indices and gathers whole batches, so the
    pipeline's per-image work is an integer."""
    import tensorflow as tf  # only this backend reads tf.data

    images, labels = tf.constant(images), tf.constant(labels)
    return (
        tf.data.Dataset.range(len(labels))
        .shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(
            lambda indices: (tf.gather(images, indices), tf.gather(labels, indices)),
            num_parallel_calls=1,
            deterministic=True,
        )
        .repeat()
        .prefetch(2)
    )


def batched_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int):
    """The validation split as batches, made once for the whole fit."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).prefetch(2)


def install_epoch_scan(model: keras.Model) -> None:
    """Make a compiled JAX model's `fit` run each epoch as one compiled `lax.scan` over Keras'
    own `train_step`. Compile it with `steps_per_execution` = the epoch's steps first: Keras then
    hands this function the whole epoch's batch iterator and calls the callbacks once an epoch.
    A short last batch (another shape) takes one more compiled step after the scan."""
    import jax

    def scan_steps(state, batches):
        def step(state, batch):
            logs, state = model.train_step(state, batch)
            return state, logs

        state, logs = jax.lax.scan(step, state, batches)
        return jax.tree.map(lambda history: history[-1], logs), state  # the epoch's running metrics

    scan = jax.jit(scan_steps, donate_argnums=0)
    single = jax.jit(model.train_step, donate_argnums=0)

    def epoch(state, iterator):
        batches = list(itertools.islice(iterator, model.steps_per_execution))
        if not batches:
            raise StopIteration  # as Keras' own train function does on an empty iterator
        logs = None
        for _, group in itertools.groupby(batches, key=batch_shapes):
            group = list(group)
            if len(group) == 1:
                logs, state = single(state, group[0])
            else:
                logs, state = scan(state, jax.tree.map(lambda *parts: jax.numpy.stack(parts), *group))
        return logs, state

    model.train_function = epoch


def batch_shapes(batch: Any) -> tuple:
    return tuple(getattr(part, "shape", None) for part in keras.tree.flatten(batch))
