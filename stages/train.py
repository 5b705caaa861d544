"""Train one variant on data/prepared/{train,validation}.npz; write data/models/<name>.keras and
its DVCLive curves and summary (training time, epochs) under metrics/training/<name>/.

Run alone: `python -m stages.train lenet5` (or `dvc repro train@lenet5`).
"""

import argparse
import contextlib
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

from stages.config import apply_backend, atomic_path, load_params, variant_backend, variant_spec

if __name__ == "__main__" and len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
    apply_backend(sys.argv[1])  # before Keras is imported, which fixes the backend

import keras  # noqa: E402
import numpy as np  # noqa: E402
from dvclive import Live  # noqa: E402
from dvclive.utils import standardize_metric_name  # noqa: E402

from stages.cluster import cluster_from_environment, run_in_cluster  # noqa: E402
from stages.devices import (Plan, accelerator_required, describe_machine, distribution_scope,  # noqa: E402
                            plan_for, split_evenly)
from stages.epochs import compile_for_loop, fit_inputs, loop_for, steps_per_epoch  # noqa: E402
from stages.models import build_model, build_optimizer, training_clone, validate_spec  # noqa: E402

log = logging.getLogger("train")

PREPARED_DIR = Path("data/prepared")
MODELS_DIR = Path("data/models")
TRAINING_METRICS_DIR = Path("metrics/training")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask for deterministic ops where the backend has them."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only this backend needs (and has) the switch

        tf.config.experimental.enable_op_determinism()


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images with a channel axis, (N, 28, 28, 1), and integer labels (N,)."""
    with np.load(path) as arrays:
        return arrays["images"][..., np.newaxis], arrays["labels"].astype(np.int32)


class LiveCurves(keras.callbacks.Callback):
    """Log each epoch's metrics to DVCLive (train/* and eval/*), on any Keras backend.

    dvclive.keras imports TensorFlow, which the JAX and PyTorch backends may not have.
    """

    def __init__(self, live: Live) -> None:
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        for metric, value in (logs or {}).items():
            if metric.endswith(("loss", "accuracy")):
                self.live.log_metric(standardize_metric_name(metric, "dvclive.keras"), float(value))
        self.live.next_step()


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


def compile_for_training(model: keras.Model, spec: dict[str, Any], num_images: int,
                         steps_per_execution: int = 1) -> None:
    """Compile with the spec's optimizer (its schedule spans the whole run) and our loss/metrics."""
    model.compile(
        optimizer=build_optimizer(spec["optimizer"], steps_per_epoch(num_images, spec["batch_size"]) * spec["epochs"]),
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
    `loop` is how each epoch runs (stages/epochs.py): "compiled", or "keras" as the posts do."""
    loop = loop_for(loop, plan.num_devices, plan.num_processes)
    batch_size, num_images = spec["batch_size"], len(train_data[0])
    steps_per_execution = compile_for_loop(model, loop, num_images, batch_size, plan.steps_per_execution,
                                           lambda steps: compile_for_training(model, spec, num_images, steps))
    log.info("compiled: XLA %s, %s loop, %d step(s) per execution", "on" if model.jit_compile else "off",
             loop, steps_per_execution)
    # The shuffle's seed comes from NumPy's generator, which seed_everything seeded.
    inputs = fit_inputs(loop, train_data, validation_data, batch_size, seed=int(np.random.randint(2**31 - 1)))
    stopping = [] if patience is None else [keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True)]
    started = time.perf_counter()
    history = model.fit(**inputs, epochs=spec["epochs"],
                        callbacks=[*averaging_callbacks(model), *stopping, *callbacks], verbose=2)
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


def early_stopping_patience(params: dict[str, Any], spec: dict[str, Any]) -> int:
    """The recipe's own `early_stopping_patience`, else the project's `train.early_stopping_patience`
    (load_params' schema checked both)."""
    return spec.get("early_stopping_patience", params["train"]["early_stopping_patience"])


def save_model(model: keras.Model, path: Path) -> None:
    """Save via a temp file and rename, so a crash never leaves a model file a later stage trusts."""
    with atomic_path(path) as temp_path:
        model.save(temp_path)


def main(name: str, prepared_dir: Path = PREPARED_DIR, models_dir: Path = MODELS_DIR,
         metrics_dir: Path = TRAINING_METRICS_DIR) -> dict[str, Any]:
    """Check the params and the environment, then train here, or as one process of a cluster
    (KERAS_DISTRIBUTION_* set, JAX backend: README "GPUs and several hosts")."""
    params = load_params()
    spec = variant_spec(params, name)
    validate_spec(name, spec)
    patience = early_stopping_patience(params, spec)
    accelerator_required()  # a bad switch fails here, before anything starts
    cluster = cluster_from_environment()
    if cluster is None:
        return run(name, params, spec, patience, prepared_dir, models_dir, metrics_dir)
    if keras.backend.backend() != "jax":
        raise ValueError(f"{name}: training over several processes (KERAS_DISTRIBUTION_NUM_PROCESSES="
                         f"{cluster.num_processes}) needs the JAX backend, not {keras.backend.backend()}; "
                         "set KERAS_BACKEND=jax.")
    return run_in_cluster(cluster, run, name, params, spec, patience, prepared_dir, models_dir, metrics_dir)


def run(name: str, params: dict[str, Any], spec: dict[str, Any], patience: int, prepared_dir: Path,
        models_dir: Path, metrics_dir: Path) -> dict[str, Any]:
    """Train variant `name` on what this process sees; only process 0 (of a cluster) writes."""
    seed_everything(int(params["seed"]))
    plan = plan_for(spec)  # before any data is read: a missing accelerator fails here
    log.info("%s: %s (params ask for %s)", name, plan.describe(), variant_backend(name, spec))
    train_data = load_split(prepared_dir / "train.npz")
    validation_data = load_split(prepared_dir / "validation.npz")
    log.info("%s: %d training and %d validation images, %s epochs of batch %d", name,
             len(train_data[0]), len(validation_data[0]), spec["epochs"], spec["batch_size"])
    writes = plan.process_id == 0
    with Live(dir=str(metrics_dir / name), dvcyaml=None, save_dvc_exp=False) if writes else contextlib.nullcontext() as live:
        model, summary = train(spec, train_data, validation_data, patience, [LiveCurves(live)] if writes else [], plan)
        if writes:  # where it trained, for the model card (strings: `dvc metrics diff` compares only numbers)
            live.summary.update(summary | {"machine": describe_machine(), "device_plan": plan.describe()})
    if writes:
        save_model(model, models_dir / f"{name}.keras")
        log.info("%s: %s; wrote %s", name, summary, models_dir / f"{name}.keras")
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    main(parser.parse_args().variant)
