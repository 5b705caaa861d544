"""Cross-model report: leaderboard, model cards, per-class F1 heat map and training curves.

Reads metrics/evaluation/<name>.json, metrics/training/<name>/ and plots/confusion/<name>.csv for
each variant in train.variants (and train.transfer_variants); writes metrics/leaderboard.md,
metrics/test_accuracy.json, metrics/test_error.json, metrics/cards/<name>.md,
plots/training_curves.{csv,png}, plots/leaderboard.png and plots/per_class_f1.png.
Run alone: `python -m stages.report` (or `dvc repro report`).
"""

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from mnist_zoo import config, runtime
from mnist_zoo.cards import model_card, most_confused, prepared_data_version
from mnist_zoo.figures import save_figure
from mnist_zoo.files import atomic_write_bytes
from mnist_zoo.leaderboard import (
    error_percentages,
    leaderboard,
    leaderboard_markdown,
    plot_curves,
    plot_leaderboard,
    plot_per_class_f1,
    read_curves,
    short_labels,
)
from mnist_zoo.params import catalogue, load_params, variant_spec

log = logging.getLogger("report")


def write_json_in_order(path: Path, data: dict[str, Any]) -> None:
    """One number per variant, in params.yaml's order (not sorted): the columns of `dvc exp show`."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def main(
    evaluation_dir: Path = config.EVALUATION_DIR,
    training_dir: Path = config.TRAINING_METRICS_DIR,
    confusion_dir: Path = config.CONFUSION_DIR,
    cards_dir: Path = config.CARDS_DIR,
) -> pd.DataFrame:
    params = load_params()
    names = list(catalogue(params))
    specs = {name: variant_spec(params, name) for name in names}
    labels = short_labels(names, params["report"].get("short_names") or {})
    evaluations = {name: json.loads((evaluation_dir / f"{name}.json").read_text()) for name in names}

    table = leaderboard(evaluations, {name: spec.get("reported_accuracy") for name, spec in specs.items()})
    atomic_write_bytes(config.LEADERBOARD_PATH, leaderboard_markdown(table).encode())
    accuracies = {name: evaluations[name]["accuracy"] for name in names}
    write_json_in_order(config.TEST_ACCURACY_PATH, accuracies)
    write_json_in_order(config.TEST_ERROR_PATH, error_percentages(accuracies, labels))

    data_version = prepared_data_version()
    for name in names:
        training = json.loads((training_dir / name / "metrics.json").read_text())
        card = model_card(
            name, specs[name], evaluations[name], training, most_confused(confusion_dir / f"{name}.csv"), data_version
        )
        atomic_write_bytes(cards_dir / f"{name}.md", card.encode())

    curves = read_curves(training_dir, names)
    atomic_write_bytes(config.PLOTS_DIR / "training_curves.csv", curves.to_csv(index=False).encode())
    save_figure(plot_curves(curves), config.PLOTS_DIR / "training_curves.png")
    save_figure(plot_leaderboard(table), config.PLOTS_DIR / "leaderboard.png")
    save_figure(plot_per_class_f1(evaluations), config.PLOTS_DIR / "per_class_f1.png")
    best = table.iloc[0]
    log.info(
        "%d variants; best %s at %.2f%%; wrote %s, %s, %s, a model card each in %s and 4 plots",
        len(table),
        best["variant"],
        100 * best["accuracy"],
        config.LEADERBOARD_PATH,
        config.TEST_ACCURACY_PATH,
        config.TEST_ERROR_PATH,
        cards_dir,
    )
    return table


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
