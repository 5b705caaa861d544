"""Inference-speed benchmark: each trained variant in Keras (TensorFlow) beside its ONNX export in
ONNX Runtime, at batch 1 (a person asking about one digit) and batch 256 (a service's batch).

Run: `python -m bench.inference_speed [VARIANT ...] [--seconds 2]` after `dvc repro` (or
`dvc pull`): it needs data/models/<name>.keras, data/export/<name>.onnx and data/prepared/test.npz.
Keras runs `predict_on_batch` (no per-call dataset set-up); the two runtimes alternate, and each
figure is the median of three timed rounds, so machine noise hits both.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.shipping.inference import onnx_classifier

BATCH_SIZES = (1, 256)
ROUNDS = 3


def images_per_second(classify: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, seconds: float) -> float:
    """Calls `classify(batch)` for at least `seconds` (after one warm-up call); images per second."""
    classify(batch)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls < 3:
        classify(batch)
        calls += 1
    return calls * len(batch) / elapsed


def measure(
    classifiers: dict[str, Callable[[np.ndarray], np.ndarray]], images: np.ndarray, seconds: float
) -> dict[tuple[str, int], float]:
    """Median images/s per (runtime, batch size) over ROUNDS rounds, runtimes alternating."""
    samples: dict[tuple[str, int], list[float]] = {}
    for round_index in range(ROUNDS):
        order = list(classifiers) if round_index % 2 == 0 else list(reversed(classifiers))
        for batch_size in BATCH_SIZES:
            for engine in order:
                rate = images_per_second(classifiers[engine], images[:batch_size], seconds)
                samples.setdefault((engine, batch_size), []).append(rate)
    return {key: statistics.median(rates) for key, rates in samples.items()}


def format_table(rows: dict[str, dict[tuple[str, int], float]]) -> str:
    lines = [
        "| variant | Keras, batch 1 | ONNX Runtime, batch 1 | speed-up | Keras, batch 256 | "
        "ONNX Runtime, batch 256 | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rates in rows.items():
        cells = []
        for batch_size in BATCH_SIZES:
            keras_rate, onnx_rate = rates["keras", batch_size], rates["onnx", batch_size]
            cells += [f"{keras_rate:,.0f}", f"{onnx_rate:,.0f}", f"{onnx_rate / keras_rate:.1f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    import keras

    from mnist_zoo.params import load_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help="default: every variant in train.variants")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement")
    parser.add_argument("--models-dir", type=Path, default=config.MODELS_DIR)
    parser.add_argument("--export-dir", type=Path, default=config.EXPORT_DIR)
    parser.add_argument("--test-data", type=Path, default=config.PREPARED_DIR / "test.npz")
    arguments = parser.parse_args(argv)
    names = arguments.variants or list(load_params()["train"]["variants"])
    for name in names:
        for path in (arguments.models_dir / f"{name}.keras", arguments.export_dir / f"{name}.onnx"):
            if not path.is_file():
                raise SystemExit(
                    f"inference_speed: {path} is missing: run `dvc repro ship/dvc.yaml:export@{name}` or `dvc pull`."
                )
    with np.load(arguments.test_data) as arrays:
        images = arrays["images"][: max(BATCH_SIZES), ..., np.newaxis].astype(np.float32)

    rows = {}
    for name in names:
        model = keras.saving.load_model(arguments.models_dir / f"{name}.keras")
        classifiers = {"keras": model.predict_on_batch, "onnx": onnx_classifier(arguments.export_dir / f"{name}.onnx")}
        rows[name] = measure(classifiers, images, arguments.seconds)
        print(
            f"{name}: "
            + ", ".join(
                f"{runtime} batch {size}: {rate:,.0f} images/s" for (runtime, size), rate in rows[name].items()
            ),
            file=sys.stderr,
        )
    table = format_table(rows)
    print(f"Images per second, median of {ROUNDS} rounds of >= {arguments.seconds:g} s each:\n{table}")
    return table


if __name__ == "__main__":
    runtime.start("tensorflow")  # the Keras side of the comparison: the posts' backend
    main()
