"""Training-speed benchmark: each variant's recipe as plain Keras `model.fit` on float32 arrays
(the posts' way) beside the project's training path (mnist_zoo.training.trainer), on the same cached data.
`--against landed` compares the project path's epoch loops instead: Keras' own loop (as landed
before mnist_zoo/training/epochs.py) against the compiled one the train stage uses now.

Run: `python -m bench.train_speed` after `dvc repro preprocess` (see README for the measured table).
Every measurement is a fresh process, so each path gets its own Keras backend; the two paths
alternate (baseline first, then project first) so machine noise hits both.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from mnist_zoo.config import PREPARED_DIR

BASELINES = {"plain": "plain Keras", "landed": "Keras' loop"}
ACCURACY_TARGETS = (0.99, 0.995)


def steady_epoch_seconds(epoch_seconds: list[float]) -> float:
    """Median epoch time, leaving out the first epoch (it pays for tracing and compilation)."""
    if not epoch_seconds:
        raise ValueError("No epochs were timed.")
    return statistics.median(epoch_seconds[1:] or epoch_seconds)


def seconds_to_accuracy(history: list[dict[str, float]], target: float) -> float | None:
    """Training seconds at the end of the first epoch whose test accuracy reaches `target`."""
    return next((epoch["seconds"] for epoch in history if epoch["test_accuracy"] >= target), None)


def speed_row(
    variant: str, images: int, flops_per_image: int, baseline: list[float], project: list[float]
) -> dict[str, Any]:
    """One table row from each path's epoch seconds (the baseline: plain Keras, or the landed loop)."""
    baseline_seconds, project_seconds = steady_epoch_seconds(baseline), steady_epoch_seconds(project)
    return {
        "variant": variant,
        "mflop_per_image": flops_per_image / 1e6,
        "baseline_s_per_epoch": baseline_seconds,
        "project_s_per_epoch": project_seconds,
        "baseline_images_per_s": images / baseline_seconds,
        "project_images_per_s": images / project_seconds,
        "baseline_gflops": images * flops_per_image / baseline_seconds / 1e9,
        "project_gflops": images * flops_per_image / project_seconds / 1e9,
        "ratio": project_seconds / baseline_seconds,
    }


def format_speed_table(
    rows: list[dict[str, Any]], backends: dict[str, str], ceiling_gflops: float, baseline: str = "plain"
) -> str:
    """The speed table; GFLOP/s columns as a share of `ceiling_gflops` (the machine's large matmul)."""
    label = BASELINES[baseline]
    lines = [
        f"| variant | MFLOP/image | {label} s/epoch | project s/epoch (backend) | {label} images/s | "
        f"project images/s | {label} GFLOP/s | project GFLOP/s | project / {label} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['mflop_per_image']:.1f} | {row['baseline_s_per_epoch']:.2f} | "
            f"{row['project_s_per_epoch']:.2f} ({backends[row['variant']]}) | "
            f"{row['baseline_images_per_s']:,.0f} | {row['project_images_per_s']:,.0f} | "
            f"{row['baseline_gflops']:.0f} ({row['baseline_gflops'] / ceiling_gflops:.0%}) | "
            f"{row['project_gflops']:.0f} ({row['project_gflops'] / ceiling_gflops:.0%}) | "
            f"{row['ratio']:.2f} |"
        )
    return "\n".join(lines)


def format_accuracy_table(runs: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| run | "
        + " | ".join(f"s to {100 * target:.1f}%" for target in ACCURACY_TARGETS)
        + " | best test accuracy (epoch, s) |",
        "|---|" + "---|" * (len(ACCURACY_TARGETS) + 1),
    ]
    for label, history in runs.items():
        cells = [seconds_to_accuracy(history, target) for target in ACCURACY_TARGETS]
        best = max(history, key=lambda epoch: epoch["test_accuracy"])
        lines.append(
            f"| {label} | "
            + " | ".join("not reached" if cell is None else f"{cell:.0f}" for cell in cells)
            + f" | {100 * best['test_accuracy']:.2f}% ({best['epoch']}, {best['seconds']:.0f} s) |"
        )
    return "\n".join(lines)


def run_worker(
    path: str, variant: str | None = None, epochs: int | None = None, images: int = 0, test_accuracy: bool = False
) -> dict[str, Any]:
    """One measurement in a fresh process (the Keras backend is fixed per process)."""
    command = [sys.executable, "-m", "bench.worker", path]
    if variant:
        command += [variant, "--images", str(images)]
    if epochs:
        command += ["--epochs", str(epochs)]
    if test_accuracy:
        command.append("--test-accuracy")
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(variants: list[str], epochs: int, images: int, accuracy_run: bool, baseline: str = "plain") -> str:
    from mnist_zoo.params import load_params  # keep `--help` free of project imports

    if not (PREPARED_DIR / "train.npz").is_file():
        raise SystemExit(f"{PREPARED_DIR / 'train.npz'} is missing: run `dvc repro preprocess` first.")
    params = load_params()
    variants = variants or list(params["train"]["variants"])
    started = time.perf_counter()
    ceiling = run_worker("matmul")["matmul_gflops"]
    print(f"largest float32 matmul (4096^2, TensorFlow): {ceiling:.0f} GFLOP/s", flush=True)
    rows, backends = [], {}
    for index, variant in enumerate(variants):
        paths = (baseline, "project")
        order = paths if index % 2 == 0 else paths[::-1]  # alternate which path runs first
        timings = {path: run_worker(path, variant, epochs, images, False) for path in order}
        backends[variant] = timings["project"]["backend"]
        rows.append(
            speed_row(
                variant,
                timings[baseline]["images"],
                timings[baseline]["training_flops_per_image"],
                timings[baseline]["epoch_seconds"],
                timings["project"]["epoch_seconds"],
            )
        )
        print(
            f"{variant}: {baseline} {rows[-1]['baseline_s_per_epoch']:.2f} s/epoch, project "
            f"{rows[-1]['project_s_per_epoch']:.2f} s/epoch ({backends[variant]}), ratio {rows[-1]['ratio']:.2f}",
            flush=True,
        )
    report = [
        f"Steady-state epoch of {timings[baseline]['images']:,} images, median of epochs 2..{epochs}; "
        "GFLOP/s from each variant's training arithmetic (3x the forward pass's conv and dense "
        f"multiply-adds), in brackets as a share of the largest float32 matmul's {ceiling:.0f} GFLOP/s:",
        format_speed_table(rows, backends, ceiling, baseline),
    ]
    if accuracy_run:  # always on every training image: accuracy is the point here
        runs = {
            "flagship, project path (its full recipe)": run_worker("project", "flagship", None, 0, True)["history"],
            "chollet, plain Keras (its full recipe)": run_worker("plain", "chollet", None, 0, True)["history"],
        }
        report += [
            "",
            "Time to test accuracy (training seconds; test evaluation not counted):",
            format_accuracy_table(runs),
        ]
    report.append(f"\nBenchmark wall time {time.perf_counter() - started:.0f} s.")
    text = "\n".join(report)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help="names from train.variants (default: all of them)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per path and variant (default 3)")
    parser.add_argument(
        "--images", type=int, default=0, help="training images per speed measurement (default 0 = all 55,000)"
    )
    parser.add_argument(
        "--against",
        choices=list(BASELINES),
        default="plain",
        help="the baseline path: plain Keras (default), or the project path with Keras' "
        "own epoch loop (landed) to time the compiled loop against",
    )
    parser.add_argument(
        "--no-accuracy-run",
        dest="accuracy_run",
        action="store_false",
        help="skip the time-to-accuracy runs (flagship and chollet, full recipes)",
    )
    arguments = parser.parse_args()
    if arguments.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch pays for compilation and is not counted.")
    main(arguments.variants, arguments.epochs, arguments.images, arguments.accuracy_run, arguments.against)
