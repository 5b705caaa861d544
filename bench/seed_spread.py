"""Seed spread: how far a recipe's test accuracy moves with the seed alone.

Run: `python -m bench.seed_spread chollet --seeds 10` after `dvc repro preprocess`. Each seed trains
the variant exactly as `dvc repro train@<variant>` does (same path, backend, early stopping; only
`seed` replaced) and scores the kept model on the test set as `evaluate` does, so the row for
params.yaml's own seed is the committed run. `--posts-protocol` trains the posts' way instead: all
60,000 training images, the whole epoch budget, the last epoch's weights. One figure from one seed
says little when seeds differ by tenths of a point; this prints the spread to judge a bar against.
"""

import argparse
import statistics
from typing import Any

import numpy as np

from mnist_zoo import runtime
from mnist_zoo.config import PREDICT_BATCH_SIZE, PREPARED_DIR
from mnist_zoo.dataset import load_split
from mnist_zoo.params import load_params, variant_backend, variant_spec


def spread_row(
    seed: int,
    spec: dict[str, Any],
    params: dict[str, Any],
    posts_protocol: bool,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """Train under `seed` (our protocol or the posts') and score the kept model on the test split."""
    from mnist_zoo.devices import plan_for
    from mnist_zoo.evaluation import classification_metrics
    from mnist_zoo.training import early_stopping_patience, seed_everything, train

    seed_everything(seed)
    if posts_protocol:
        # The posts' protocol: all training images, every epoch of the budget, the last weights.
        everything = tuple(np.concatenate(pair) for pair in zip(splits["train"], splits["validation"], strict=True))
        model, summary = train(spec, everything, None, None, [], plan_for(spec))
    else:
        model, summary = train(
            spec, splits["train"], splits["validation"], early_stopping_patience(params, spec), [], plan_for(spec)
        )
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


def main(variant: str, seeds: list[int], posts_protocol: bool, bar: float | None) -> str:
    from mnist_zoo.models import validate_spec

    params = load_params()
    spec = variant_spec(params, variant)
    validate_spec(variant, spec)
    if not seeds:
        raise SystemExit("Give at least one seed (--seeds N or --seed-list 1,2,3).")
    if not (PREPARED_DIR / "train.npz").is_file():
        raise SystemExit(f"{PREPARED_DIR / 'train.npz'} is missing: run `dvc repro preprocess` first.")
    splits = {split: load_split(PREPARED_DIR / f"{split}.npz") for split in ("train", "validation", "test")}
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
    return text


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
    arguments = parser.parse_args()
    params = load_params()
    runtime.start(variant_backend(variant_spec(params, arguments.variant)))  # as the train stage does
    first = int(params["seed"])
    chosen = (
        [int(seed) for seed in arguments.seed_list.split(",") if seed.strip()]
        if arguments.seed_list
        else list(range(first, first + arguments.seeds))
    )
    main(arguments.variant, chosen, arguments.posts_protocol, arguments.bar)
