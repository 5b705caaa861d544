"""The zoo on a GPU: every default variant trained through the project's own training code
(mnist_zoo.training.trainer: its models, device plan and epoch loop) on the JAX backend, the TensorFlow
variants included, then scored on the MNIST test set; and the flagship in float32 against mixed
bfloat16. Writes one JSON: the device, the driver and library versions, and per run the precision,
epochs, seconds per steady-state epoch, images/s, seconds spent compiling and test accuracy.

Run it with `bench/gpu_check` (which first installs the wheels a machine without Keras needs);
`--dry-run` trains on tiny data for one epoch, on whatever JAX sees (the test suite runs it on the
CPU). Reads data/prepared/*.npz, or makes them from the four MNIST files in data/raw exactly as
the preprocess stage does (same params, same split).
"""

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mnist_zoo import runtime
from mnist_zoo.config import PREDICT_BATCH_SIZE, PREPARED_DIR, RAW_DIR

# The default share of each recipe's epochs, so the whole check fits in about 5 minutes of a lent
# GPU (at least two epochs each, so one steady-state epoch follows the compiling first).
DEFAULT_EPOCH_FRACTION = 0.5
DRY_RUN_IMAGES = {"train": 256, "validation": 64, "test": 128}


def prepared_splits(prepared_dir: Path, raw_dir: Path, params: dict[str, Any]) -> dict[str, tuple]:
    """The train, validation and test tensors the pipeline trains on: the prepared files, or the
    same made here from the raw MNIST files by preprocess's own code and params."""
    from mnist_zoo.experiments.profiles import splits_for

    return splits_for(params, prepared_dir, raw_dir)


def epochs_for(recipe_epochs: int, fraction: float, dry_run: bool) -> int:
    """The epochs a recipe gets here: one in a dry run, else its share (at least two)."""
    return 1 if dry_run else max(2, math.ceil(recipe_epochs * fraction))


def timing(epoch_seconds: list[float], num_images: int) -> dict[str, float | None]:
    """Steady-state figures from per-epoch times: the median epoch after the first, and the first
    epoch's excess over it, which is compiling (XLA traces and compiles the step and the scan)."""
    steady = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else None
    return {
        "seconds_per_steady_epoch": None if steady is None else round(steady, 3),
        "images_per_second": None if steady is None else round(num_images / steady, 1),
        "compile_seconds": None if steady is None else round(max(0.0, epoch_seconds[0] - steady), 3),
        "first_epoch_seconds": round(epoch_seconds[0], 3),
    }


def train_and_score(
    name: str, spec: dict[str, Any], params: dict[str, Any], splits: dict[str, tuple]
) -> dict[str, Any]:
    """One variant through mnist_zoo.training.trainer.train_variant, as the train stage trains it, each
    epoch timed; then its test accuracy."""
    from mnist_zoo.training.devices import plan_for
    from mnist_zoo.training.trainer import EpochClock, train_variant

    plan = plan_for(spec)
    clock = EpochClock()
    started = time.perf_counter()
    model, summary = train_variant(params, spec, splits["train"], splits["validation"], [clock], plan=plan)
    wall = time.perf_counter() - started
    images, labels = splits["test"]
    predictions = np.asarray(model.predict(images, batch_size=PREDICT_BATCH_SIZE, verbose=0)).argmax(axis=1)
    record = {
        "variant": name,
        "precision": plan.precision,
        "device_plan": plan.describe(),
        "epochs": spec["epochs"],
        "epochs_run": summary["epochs_run"],
        "best_epoch": summary["best_epoch"],
        "epoch_seconds": [round(seconds, 3) for seconds in clock.epoch_seconds],
        "training_seconds": round(wall, 2),
        **timing(clock.epoch_seconds, len(splits["train"][0])),
        "test_accuracy": round(float(np.mean(predictions == labels)), 6),
    }
    print(
        f"gpu_check: {name}: {record['precision']}, {record['epochs_run']} epochs, "
        f"{record['seconds_per_steady_epoch']} s/epoch, test accuracy {record['test_accuracy']:.4f}",
        flush=True,
    )
    return record


def versions() -> dict[str, str]:
    """The Python, library and driver versions this ran on."""
    import jax
    import jaxlib
    import keras

    found = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version,name,memory.total", "--format=csv,noheader"]
        found["nvidia_smi"] = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found["nvidia_smi"] = "not available"
    return found


def run(
    variants: list[str] | None,
    fraction: float,
    dry_run: bool,
    prepared_dir: Path = PREPARED_DIR,
    raw_dir: Path = RAW_DIR,
) -> dict[str, Any]:
    from mnist_zoo.models.families import validate_spec
    from mnist_zoo.params import load_params, variant_spec
    from mnist_zoo.training.devices import visible_devices

    params = load_params()
    names = variants or list(params["train"]["variants"])
    splits = prepared_splits(prepared_dir, raw_dir, params)
    if dry_run:
        splits = {
            split: (images[: DRY_RUN_IMAGES[split]], labels[: DRY_RUN_IMAGES[split]])
            for split, (images, labels) in splits.items()
        }
    devices = visible_devices()
    started = time.perf_counter()
    records = []
    for name in names:
        spec = variant_spec(params, name)
        validate_spec(name, spec)
        records.append(
            train_and_score(name, {**spec, "epochs": epochs_for(spec["epochs"], fraction, dry_run)}, params, splits)
        )
    flagship = variant_spec(params, "flagship")
    flagship_epochs = epochs_for(flagship["epochs"], fraction, dry_run)
    precisions = [
        train_and_score("flagship", {**flagship, "epochs": flagship_epochs, "precision": precision}, params, splits)
        for precision in ("float32", "mixed_bfloat16")
    ]
    return {
        "device": {
            "platform": devices.platform,
            "count": devices.count,
            "name": devices.name,
            "bfloat16": devices.bfloat16,
        },
        "versions": versions(),
        "dry_run": dry_run,
        "epoch_fraction": fraction,
        "images": {split: len(labels) for split, (_, labels) in splits.items()},
        "variants": records,
        "flagship_precision": precisions,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("bench/results/gpu_check.json"))
    parser.add_argument(
        "--epoch-fraction",
        type=float,
        default=DEFAULT_EPOCH_FRACTION,
        help=f"share of each recipe's epochs (default {DEFAULT_EPOCH_FRACTION}, at least 2 epochs)",
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny data, one epoch each: proves the path, not speed")
    parser.add_argument("--variants", nargs="*", help="default: train.variants")
    arguments = parser.parse_args(argv)
    if not 0 < arguments.epoch_fraction <= 1:
        parser.error(f"--epoch-fraction is {arguments.epoch_fraction:g}; give a share in (0, 1], e.g. 0.5.")
    runtime.start("jax", override=True)  # the GPU path: every variant on JAX, as KERAS_BACKEND=jax does
    result = run(arguments.variants, arguments.epoch_fraction, arguments.dry_run)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"gpu_check: wrote {arguments.output} ({result['device']['name']}, {result['wall_seconds']} s)", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
