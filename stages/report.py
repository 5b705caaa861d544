"""The results a reviewer reads, in git (results/, `cache: false`): the summary of every variant
(results/metrics.json, the project's metrics), the leaderboard, a model card per variant and the
cross-model figures (training curves, accuracy against training time, per-digit F1, reliability,
accuracy under each corruption, accuracy across writers, your writers' digits), and the data card (results/data.md, its
counts in results/data.json) from preprocess's catalog.

Reads metrics/evaluation/<name>.json, metrics/robustness/<name>.json, metrics/training/<name>/,
plots/confusion/<name>.csv and plots/reliability/<name>.csv for each variant in train.variants (and
train.transfer_variants, which have no robustness stage); runs in seconds, so a clone that restores
every model from the run-cache reruns only this. Run alone: `python -m stages.report`.
"""

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from mnist_zoo import config, runtime
from mnist_zoo.data.catalog import counts, data_card, read_catalog
from mnist_zoo.data.dataset import load_metadata
from mnist_zoo.figures import save_figure
from mnist_zoo.files import atomic_write_bytes
from mnist_zoo.params import catalogue, load_params, variant_spec
from mnist_zoo.reporting.cards import model_card, most_confused, prepared_data_version
from mnist_zoo.reporting.leaderboard import (
    Results,
    figures,
    label_review_markdown,
    leaderboard,
    leaderboard_markdown,
    short_labels,
    summary,
)
from mnist_zoo.reporting.zoo_figures import (
    plot_curves,
    plot_leaderboard,
    plot_own_digits,
    plot_per_class_f1,
    plot_reliability,
    plot_robustness,
    plot_writers,
    read_curves,
    read_reliability,
)

log = logging.getLogger("report")

# The cross-model figures and their data, beside the summary (dvc.yaml's headline plots).
CURVES_PATH = config.RESULTS_DIR / "training_curves.csv"
RELIABILITY_PATH = config.RESULTS_DIR / "reliability.csv"


def write_json_in_order(path: Path, data: dict[str, Any]) -> None:
    """JSON in the order given (not sorted): the order of `dvc exp show`'s columns."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def main(
    evaluation_dir: Path = config.EVALUATION_DIR,
    training_dir: Path = config.TRAINING_METRICS_DIR,
    confusion_dir: Path = config.CONFUSION_DIR,
) -> pd.DataFrame:
    params = load_params()
    names = list(catalogue(params))
    specs = {name: variant_spec(params, name) for name in names}
    labels = short_labels(names, params["report"].get("short_names") or {})
    evaluations = {name: json.loads((evaluation_dir / f"{name}.json").read_text()) for name in names}
    robustness = {
        name: json.loads((config.ROBUSTNESS_DIR / f"{name}.json").read_text())
        for name in names
        if (config.ROBUSTNESS_DIR / f"{name}.json").is_file()
    }
    records = {name: figures(Results(evaluations[name], robustness.get(name), specs[name])) for name in names}
    project_metrics = summary(records, labels)
    write_json_in_order(config.RESULTS_METRICS_PATH, project_metrics)
    data = counts(read_catalog(config.CATALOG_PATH))
    review = label_review_markdown(evaluations, data.get("corrections", {}).get("excluded", {}).get("test", 0))
    atomic_write_bytes(config.LEADERBOARD_PATH, leaderboard_markdown(project_metrics, review).encode())
    table = leaderboard(project_metrics)

    for name in names:
        training = json.loads((training_dir / name / "metrics.json").read_text())
        card = model_card(
            name,
            specs[name],
            evaluations[name],
            training,
            most_confused(confusion_dir / f"{name}.csv"),
            prepared_data_version(name),
            robustness.get(name),
        )
        atomic_write_bytes(config.CARDS_DIR / f"{name}.md", card.encode())

    curves = read_curves(training_dir, names)
    atomic_write_bytes(CURVES_PATH, curves.to_csv(index=False).encode())
    reliability = read_reliability(config.RELIABILITY_DIR, names)
    atomic_write_bytes(RELIABILITY_PATH, reliability.to_csv(index=False).encode())
    plots = {
        "training_curves.png": plot_curves(curves),
        "leaderboard.png": plot_leaderboard(table),
        "per_class_f1.png": plot_per_class_f1(evaluations),
        "reliability.png": plot_reliability(reliability),
        "robustness.png": plot_robustness(robustness),
        "writers.png": plot_writers(evaluations),
        "own_digits.png": plot_own_digits(
            *load_metadata(config.PREPARED_DIR / "own.npz", "images", "labels", "ids"), evaluations
        ),
    }
    for file_name, figure in plots.items():
        save_figure(figure, config.RESULTS_DIR / file_name)
    write_json_in_order(config.DATA_COUNTS_PATH, data)
    inputs = json.loads(config.DATA_INPUTS_PATH.read_text())
    atomic_write_bytes(config.DATA_CARD_PATH, data_card(data, inputs).encode())
    best = table.iloc[0]
    log.info(
        "%d variants; best %s at %.2f%%; wrote %s",
        len(table),
        best["variant"],
        100 * best["accuracy"],
        config.RESULTS_DIR,
    )
    return table


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
