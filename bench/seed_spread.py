"""Seed spread: how far a recipe's test accuracy moves with the seed alone.

Run: `python -m bench.seed_spread chollet --seeds 10` after `dvc repro preprocess`. Each seed trains
the variant exactly as `dvc repro train@<variant>` does (same path, backend, early stopping; only
`seed` replaced) and scores the kept model on the test set as `evaluate` does, so the row for
params.yaml's own seed is the committed run. `--posts-protocol` trains the posts' way instead: all
60,000 training images, the whole epoch budget, the last epoch's weights. One figure from one seed
says little when seeds differ by tenths of a point; this prints the spread to judge a bar against.
"""

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from mnist_zoo import runtime
from mnist_zoo.config import PREDICT_BATCH_SIZE, PREPARED_DIR, SEED_BANDS_PATH
from mnist_zoo.files import atomic_write_bytes
from mnist_zoo.params import load_params, variant_backend, variant_spec


def spread_row(
    seed: int,
    spec: dict[str, Any],
    params: dict[str, Any],
    posts_protocol: bool,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """Train under `seed` (our protocol or the posts') and score the kept model on the test split."""
    from mnist_zoo.evaluation.scoring import classification_metrics
    from mnist_zoo.training.trainer import train_variant

    if posts_protocol:
        # The posts' protocol: all training images, every epoch of the budget, the last weights.
        everything = tuple(np.concatenate(pair) for pair in zip(splits["train"], splits["validation"], strict=True))
        model, summary = train_variant(params, spec, everything, None, seed=seed, early_stopping=False)
    else:
        model, summary = train_variant(params, spec, splits["train"], splits["validation"], seed=seed)
    test_images, test_labels = splits["test"]
    probabilities = model.predict(test_images, batch_size=PREDICT_BATCH_SIZE, verbose=0)
    scores = classification_metrics(test_labels, probabilities)
    return {
        "seed": seed,
        "epochs_run": summary["epochs_run"],
        "best_epoch": summary["best_epoch"],
        "test_accuracy": scores["accuracy"],
        "test_loss": scores["loss"],
    }


def spread_summary(accuracies: list[float], bar: float | None) -> dict[str, Any]:
    """Mean, sample standard deviation, range and (given a bar) how many seeds reach it."""
    if not accuracies:
        raise ValueError("No seeds were run.")
    summary = {
        "seeds": len(accuracies),
        "mean": statistics.fmean(accuracies),
        "sd": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "min": min(accuracies),
        "max": max(accuracies),
    }
    if bar is not None:
        summary["reaching_bar"] = sum(accuracy >= bar for accuracy in accuracies)
    return summary


def format_spread(variant: str, protocol: str, rows: list[dict[str, Any]], params_seed: int, bar: float | None) -> str:
    lines = [
        f"{variant}, {protocol}:",
        "| seed | epochs run | kept epoch | test accuracy | test loss |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        label = f"{row['seed']} (params.yaml)" if row["seed"] == params_seed else str(row["seed"])
        lines.append(
            f"| {label} | {row['epochs_run']} | {row['best_epoch']} | {100 * row['test_accuracy']:.2f}% "
            f"| {row['test_loss']:.4f} |"
        )
    summary = spread_summary([row["test_accuracy"] for row in rows], bar)
    lines.append(
        f"\nOver {summary['seeds']} seeds: mean {100 * summary['mean']:.2f}%, sd "
        f"{100 * summary['sd']:.2f} points, range {100 * summary['min']:.2f}-{100 * summary['max']:.2f}%"
        + ("" if bar is None else f"; {summary['reaching_bar']} of {summary['seeds']} reach {100 * bar:.2f}%")
        + "."
    )
    return "\n".join(lines)


def main(
    variant: str,
    seeds: list[int],
    posts_protocol: bool,
    bar: float | None,
    profile: Path | None = None,
    write_band: bool = False,
) -> str:
    from mnist_zoo.experiments.profiles import apply_profile, load_profile, splits_for
    from mnist_zoo.models.families import validate_spec

    params = load_params()
    if profile is not None:
        params = apply_profile(params, load_profile(profile))
    spec = variant_spec(params, variant)
    validate_spec(variant, spec)
    if not seeds:
        raise SystemExit("Give at least one seed (--seeds N or --seed-list 1,2,3).")
    if not (PREPARED_DIR / "train.npz").is_file():
        raise SystemExit(f"{PREPARED_DIR / 'train.npz'} is missing: run `dvc repro preprocess` first.")
    splits = splits_for(params)
    protocol = (
        "the posts' protocol (train + validation images, every epoch, last weights)"
        if posts_protocol
        else "the pipeline's protocol (early stopping on validation loss, best weights)"
    )
    rows = []
    for seed in seeds:
        rows.append(spread_row(seed, spec, params, posts_protocol, splits))
        print(
            f"seed {seed}: {100 * rows[-1]['test_accuracy']:.2f}% (kept epoch {rows[-1]['best_epoch']} "
            f"of {rows[-1]['epochs_run']})",
            flush=True,
        )
    text = format_spread(
        variant, protocol, rows, int(params["seed"]), spec.get("reported_accuracy") if bar is None else bar
    )
    print(text)
    if write_band:
        band = write_seed_band(variant, spec, params, rows, "full" if profile is None else profile_name(profile))
        print(f"wrote {SEED_BANDS_PATH}: {variant} on {band}")
    return text


def profile_name(path: Path) -> str:
    """bench/pull_request_profile.yaml -> pull_request: the name the gate's --profile uses."""
    return path.stem.removesuffix("_profile")


def write_seed_band(
    variant: str, spec: dict[str, Any], params: dict[str, Any], rows: list[dict[str, Any]], profile: str
) -> str:
    """Record the spread in results/seed_bands.json (under the profile and the variant), with the
    fingerprint of the recipe it was measured for, so the gate can tell when it goes stale."""
    from mnist_zoo.experiments.comparison import recipe_fingerprint, seed_band

    bands = json.loads(SEED_BANDS_PATH.read_text()) if SEED_BANDS_PATH.is_file() else {}
    bands.setdefault(profile, {})[variant] = seed_band(
        [row["test_accuracy"] for row in rows], recipe_fingerprint(params, spec), [row["seed"] for row in rows]
    )
    atomic_write_bytes(SEED_BANDS_PATH, (json.dumps(bands, indent=2, sort_keys=True) + "\n").encode())
    return profile


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", help="a name from train.variants")
    parser.add_argument(
        "--seeds", type=int, default=5, help="run params.yaml's seed and the next N-1 after it (default 5)"
    )
    parser.add_argument("--seed-list", help="comma-separated seeds to run instead of --seeds")
    parser.add_argument(
        "--posts-protocol",
        action="store_true",
        help="train on train + validation for the whole budget and keep the last weights",
    )
    parser.add_argument(
        "--bar",
        type=float,
        default=None,
        help="count the seeds reaching this test accuracy (default: the variant's reported_accuracy)",
    )
    parser.add_argument("--profile", type=Path, help="params to set first, e.g. bench/pull_request_profile.yaml")
    parser.add_argument(
        "--write-band",
        action="store_true",
        help="record the spread in results/seed_bands.json, for the gate and the pull-request comment",
    )
    arguments = parser.parse_args()
    params = load_params()
    runtime.start(variant_backend(variant_spec(params, arguments.variant)))  # as the train stage does
    first = int(params["seed"])
    chosen = (
        [int(seed) for seed in arguments.seed_list.split(",") if seed.strip()]
        if arguments.seed_list
        else list(range(first, first + arguments.seeds))
    )
    main(arguments.variant, chosen, arguments.posts_protocol, arguments.bar, arguments.profile, arguments.write_band)
