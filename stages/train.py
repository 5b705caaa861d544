"""Train one variant on data/prepared/{train,validation}.npz; write data/models/<name>.keras and
its DVCLive curves and summary (training time, epochs) under metrics/training/<name>/.

Run alone: `python -m stages.train lenet5` (or `dvc repro train@lenet5`); as one process of
several hosts with KERAS_DISTRIBUTION_* set (docs/gpus.md).
"""

import argparse
import contextlib
import logging
from pathlib import Path
from typing import Any

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_backend, variant_spec

log = logging.getLogger("train")


def main(
    name: str,
    prepared_dir: Path = config.PREPARED_DIR,
    models_dir: Path = config.MODELS_DIR,
    metrics_dir: Path = config.TRAINING_METRICS_DIR,
) -> dict[str, Any]:
    """Check the params and the environment, then train here, or as one process of a cluster
    (KERAS_DISTRIBUTION_* set, JAX backend: docs/gpus.md)."""
    params = load_params()
    spec = variant_spec(params, name)
    import keras

    from mnist_zoo.models.families import validate_spec
    from mnist_zoo.training.cluster import cluster_from_environment, run_in_cluster
    from mnist_zoo.training.devices import accelerator_required

    validate_spec(name, spec)
    accelerator_required()  # a bad switch fails here, before anything starts
    cluster = cluster_from_environment()
    if cluster is None:
        return run(name, params, spec, prepared_dir, models_dir, metrics_dir)
    if keras.backend.backend() != "jax":
        raise ValueError(
            f"{name}: training over several processes (KERAS_DISTRIBUTION_NUM_PROCESSES="
            f"{cluster.num_processes}) needs the JAX backend, not {keras.backend.backend()}; "
            "set KERAS_BACKEND=jax."
        )
    return run_in_cluster(cluster, run, name, params, spec, prepared_dir, models_dir, metrics_dir)


def run(
    name: str,
    params: dict[str, Any],
    spec: dict[str, Any],
    prepared_dir: Path,
    models_dir: Path,
    metrics_dir: Path,
) -> dict[str, Any]:
    """Train variant `name` on what this process sees; only process 0 (of a cluster) writes."""
    from dvclive import Live

    from mnist_zoo.data.dataset import load_split
    from mnist_zoo.training.devices import describe_machine, plan_for
    from mnist_zoo.training.live import LiveCurves
    from mnist_zoo.training.trainer import save_model, train_variant

    plan = plan_for(spec)  # before any data is read: a missing accelerator fails here
    log.info("%s: %s (params ask for %s)", name, plan.describe(), variant_backend(spec))
    train_data = load_split(prepared_dir / "train.npz")
    validation_data = load_split(prepared_dir / "validation.npz")
    log.info(
        "%s: %d training and %d validation images, %s epochs of batch %d",
        name,
        len(train_data[0]),
        len(validation_data[0]),
        spec["epochs"],
        spec["batch_size"],
    )
    writes = plan.process_id == 0
    live_run = (
        Live(dir=str(metrics_dir / name), dvcyaml=None, save_dvc_exp=False) if writes else contextlib.nullcontext()
    )
    with live_run as live:
        callbacks = [LiveCurves(live)] if writes else []
        model, summary = train_variant(params, spec, train_data, validation_data, callbacks, plan=plan)
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
    arguments = parser.parse_args()
    runtime.start(variant_backend(variant_spec(load_params(), arguments.variant)))
    main(arguments.variant)
