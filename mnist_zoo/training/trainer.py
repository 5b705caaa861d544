"""Training one variant: seeding, compiling with its optimizer, fitting with early stopping (on the
plan's devices, precision and kernels) and saving. Imports no DVC: the train stage wires DVCLive in
through `callbacks`, so models and loop run where DVC is not installed (a GPU machine, a notebook).
"""

import logging
import random
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from mnist_zoo.files import atomic_path
from mnist_zoo.models.families import build_model, build_optimizer
from mnist_zoo.models.kernels import training_clone
from mnist_zoo.training.devices import Plan, distribution_scope, plan_for, split_evenly
from mnist_zoo.training.epochs import compile_for_loop, fit_inputs, loop_for, steps_per_epoch

log = logging.getLogger("train")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask for deterministic ops where the backend has them."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only this backend needs (and has) the switch

        tf.config.experimental.enable_op_determinism()


def trainee_for(model: keras.Model, plan: Plan) -> keras.Model:
    """The model to fit under `plan` (inside `distribution_scope(plan)`): `model` itself, or a copy
    made for the plan's devices, precision and kernels (same maths, same weights)."""
    if plan.trains_as_built:
        return model
    return training_clone(model, plan.cpu_xla_kernels, plan.precision)


def averaging_callbacks(model: keras.Model) -> list[keras.callbacks.Callback]:
    """With `use_ema` in the optimizer spec, what makes validation, early stopping and the saved
    model see the weights' moving average rather than the last step's weights (put it before
    EarlyStopping, so the best weights it keeps are averaged ones); otherwise nothing."""
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if model.optimizer.use_ema else []


def compile_for_training(
    model: keras.Model, spec: dict[str, Any], num_images: int, steps_per_execution: int = 1
) -> None:
    """Compile with the spec's optimizer (its schedule spans the whole run) and our loss/metrics."""
    total_steps = steps_per_epoch(num_images, spec["batch_size"]) * spec["epochs"]
    model.compile(
        optimizer=build_optimizer(spec["optimizer"], total_steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )


def fit(
    model: keras.Model,
    spec: dict[str, Any],
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    patience: int | None,
    callbacks: list[keras.callbacks.Callback],
    plan: Plan,
    loop: str = "compiled",
) -> dict[str, Any]:
    """Compile and fit `model` with the spec's optimizer, batch size and epochs, early stopping on
    validation loss; leave it holding the best validation weights and return a run summary.
    Patience None trains every epoch of the budget and keeps the last weights (the posts' way).
    `loop` is how each epoch runs (mnist_zoo/training/epochs.py): "compiled", or "keras" as the posts do."""
    loop = loop_for(loop, plan.num_devices, plan.num_processes)
    batch_size, num_images = spec["batch_size"], len(train_data[0])
    steps_per_execution = compile_for_loop(
        model,
        loop,
        num_images,
        batch_size,
        plan.steps_per_execution,
        lambda steps: compile_for_training(model, spec, num_images, steps),
    )
    log.info(
        "compiled: XLA %s, %s loop, %d step(s) per execution",
        "on" if model.jit_compile else "off",
        loop,
        steps_per_execution,
    )
    # The shuffle's seed comes from NumPy's generator, which seed_everything seeded.
    inputs = fit_inputs(loop, train_data, validation_data, batch_size, seed=int(np.random.randint(2**31 - 1)))
    stopping = (
        []
        if patience is None
        else [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
    )
    started = time.perf_counter()
    history = model.fit(
        **inputs, epochs=spec["epochs"], callbacks=[*averaging_callbacks(model), *stopping, *callbacks], verbose=2
    )
    epochs_run = len(history.history["loss"])
    return {
        "training_seconds": round(time.perf_counter() - started, 2),
        "epochs_run": epochs_run,
        "best_epoch": epochs_run if patience is None else int(np.argmin(history.history["val_loss"])) + 1,
        "parameters": model.count_params(),
    }


def train(
    spec: dict[str, Any],
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    patience: int | None,
    callbacks: list[keras.callbacks.Callback],
    plan: Plan,
    model: keras.Model | None = None,
    loop: str = "compiled",
) -> tuple[keras.Model, dict[str, Any]]:
    """Fit `model` (default: a fresh one for `spec`) as `plan` says; return it (best validation
    weights, or the last with patience None) and a run summary.

    The model trains as a copy made for the plan (its devices, precision and kernels: the same
    maths and weights), which hands its weights back, so the returned model is plain float32 Keras.
    """
    model = build_model(spec) if model is None else model
    train_data = split_evenly(train_data, plan)
    if validation_data is not None:
        validation_data = split_evenly(validation_data, plan)
    # On several processes, each feeds its share of every global batch (split_evenly kept its share).
    process_spec = {**spec, "batch_size": spec["batch_size"] // plan.num_processes}
    with distribution_scope(plan):
        trainee = trainee_for(model, plan)
        summary = fit(trainee, process_spec, train_data, validation_data, patience, callbacks, plan, loop=loop)
    if trainee is not model:
        model.set_weights(trainee.get_weights())
    return model, summary


def train_variant(
    params: dict[str, Any],
    spec: dict[str, Any],
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    callbacks: list[keras.callbacks.Callback] = (),
    *,
    plan: Plan | None = None,
    seed: int | None = None,
    early_stopping: bool = True,
    model: keras.Model | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a variant from its params section as the train stage does; the stages, the benchmarks,
    the GPU check and the tests all train through here.

    Seeds everything with the project's `seed` (or `seed`), fits on `plan` (default: the one
    `plan_for` chooses for the spec; a caller that must fail before reading data chooses it first),
    early-stopping on validation loss with the recipe's patience. `early_stopping=False` is the
    posts' protocol: every epoch of the budget, the last weights."""
    seed_everything(int(params["seed"]) if seed is None else seed)
    patience = early_stopping_patience(params, spec) if early_stopping else None
    plan = plan_for(spec) if plan is None else plan
    return train(spec, train_data, validation_data, patience, list(callbacks), plan, model=model)


class EpochClock(keras.callbacks.Callback):
    """Times each epoch (wall seconds, in `epoch_seconds`): what the benchmarks report."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_seconds.append(time.perf_counter() - self.started)


def early_stopping_patience(params: dict[str, Any], spec: dict[str, Any]) -> int:
    """The recipe's own `early_stopping_patience`, else the project's `train.early_stopping_patience`
    (load_params' schema checked both)."""
    return spec.get("early_stopping_patience", params["train"]["early_stopping_patience"])


def save_model(model: keras.Model, path: Path) -> None:
    """Save via a temp file and rename, so a crash never leaves a model file a later stage trusts."""
    with atomic_path(path) as temp_path:
        model.save(temp_path)
