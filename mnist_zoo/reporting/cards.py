"""Model cards: one Markdown page per variant saying what the model is, what it was trained on
and with, how it scores and where it fails. `report` writes them to results/cards/<name>.md."""

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from mnist_zoo.config import DVC_LOCK_PATH, PREPARED_DIR

NUM_WEAKEST, NUM_CONFUSED = 3, 3


def prepared_data_version(name: str, lock_path: Path = DVC_LOCK_PATH) -> str:
    """The tensors variant `name` trained on, as the lock file records its train stage's deps (the
    exact files, so adding your digits for evaluation, which rewrites data/prepared but not these,
    changes nothing here); else the DVC hash of data/prepared (what `dvc checkout` restores)."""
    if not lock_path.exists():
        return "unknown (no dvc.lock: run through `dvc repro`)"
    stages = (yaml.safe_load(lock_path.read_text()) or {}).get("stages", {})
    trained = {
        Path(dep["path"]).name: dep["md5"]
        for dep in stages.get(f"train@{name}", {}).get("deps", [])
        if Path(dep["path"]).parent == PREPARED_DIR and dep["path"].endswith(".npz")
    }
    if trained:
        files = " and ".join(f"{PREPARED_DIR.as_posix()}/{file} md5 {md5}" for file, md5 in sorted(trained.items()))
        return f"{files} (train@{name} in dvc.lock)"
    for out in stages.get("preprocess", {}).get("outs", []):
        if out.get("path") == PREPARED_DIR.as_posix():
            return f"{PREPARED_DIR.as_posix()} md5 {out['md5']} ({out.get('nfiles', '?')} files, dvc.lock)"
    return "unknown (dvc.lock has no preprocess output yet)"


def most_confused(confusion_csv: Path, count: int = NUM_CONFUSED) -> list[tuple[int, int, int]]:
    """(true digit, predicted digit, images) of the most frequent mistakes, from evaluate's CSV."""
    pairs = Counter()
    for line in confusion_csv.read_text().splitlines()[1:]:
        actual, predicted = map(int, line.split(","))
        if actual != predicted:
            pairs[actual, predicted] += 1
    return [(actual, predicted, number) for (actual, predicted), number in pairs.most_common(count)]


def architecture(spec: dict[str, Any]) -> str:
    """One line a person reads, from the recipe's numbers."""
    if spec["family"] == "convnet":
        activation = spec["activation"]
        parts = [
            f"Conv {conv['filters']}@{conv['kernel_size']}x{conv['kernel_size']} {activation}"
            + (", max-pool 2x2" if conv.get("pool") else "")
            for conv in spec["conv_layers"]
        ]
        parts += [
            f"Dense {dense['units']} {activation}" + (f", Dropout {dense['dropout']}" if dense.get("dropout") else "")
            for dense in spec["dense_layers"]
        ]
        return ", ".join(["Rescale 1/255", *parts, "Dense 10 softmax"])
    if spec["family"] == "flagship":
        width = spec["filters"]
        return (
            f"Rescale 1/255, random shifts up to {spec['translation']:.0%}, Conv {width}@3x3, max-pool, "
            f"Conv {2 * width}@3x3 x 2, max-pool (each conv with batch norm, relu), Dropout {spec['dropout']}, "
            f"Dense {spec['dense_units']} (batch norm, relu), Dropout {spec['dropout']}, Dense 10 softmax"
        )
    return f"{spec['family']} (see its builder in mnist_zoo/models/families.py)"


def model_card(
    name: str,
    spec: dict[str, Any],
    evaluation: dict[str, Any],
    training: dict[str, Any],
    confused: list[tuple[int, int, int]],
    data_version: str,
    robustness: dict[str, Any] | None = None,
) -> str:
    per_class = evaluation["per_class"]
    weakest = sorted(per_class, key=lambda digit: (per_class[digit]["f1"], int(digit)))[:NUM_WEAKEST]
    recipe = {key: value for key, value in spec.items() if key not in ("reported_accuracy",)}
    reported = spec.get("reported_accuracy")
    lines = [
        f"# Model card: {name}",
        "",
        f"MNIST digit classifier, Keras 3: `data/models/{name}.keras` (ONNX: `data/export/{name}.onnx`).",
        "Input 28x28x1, pixels 0-255, light ink on dark as in MNIST; output 10 probabilities.",
        "",
        "## Architecture",
        "",
        architecture(spec),
        "",
        f"{evaluation['parameters']:,} parameters.",
        "",
        "## Recipe (params.yaml)",
        "",
        "```yaml",
        yaml.safe_dump(recipe, sort_keys=False).rstrip(),
        "```",
        "",
        "## Data",
        "",
        f"Trained on {data_version}; early stopping on the validation split; "
        f"tested on {sum(row['support'] for row in per_class.values()):,} test images.",
        "",
        "## Test metrics",
        "",
        f"- accuracy {evaluation['accuracy']:.2%}" + (f" (its post reported {reported:.2%})" if reported else ""),
        f"- macro F1 {evaluation['f1_macro']:.4f}, log loss {evaluation['loss']:.4f}",
        "- weakest digits (F1, precision, recall): "
        + "; ".join(
            f"{digit}: {per_class[digit]['f1']:.4f}, {per_class[digit]['precision']:.4f}, "
            f"{per_class[digit]['recall']:.4f}"
            for digit in weakest
        ),
        "- most confused (true -> predicted: images): "
        + ("; ".join(f"{actual} -> {predicted}: {number}" for actual, predicted, number in confused) or "none"),
        "",
        *slice_lines(evaluation.get("slices")),
        *calibration_lines(evaluation.get("calibration"), evaluation["loss"]),
        *robustness_lines(robustness),
        "## Training",
        "",
        f"- {training['training_seconds']:.0f} s, {training['epochs_run']} epochs "
        f"(best validation loss at epoch {training.get('best_epoch', '?')})",
        f"- machine: {training.get('machine', 'not recorded')}",
        f"- devices: {training.get('device_plan', 'not recorded')}",
        "",
        "## Use",
        "",
        f"`mnist-predict my_digit.png --model {name}` (add `--onnx` to run the export without "
        f'Keras; it answers "not a digit" below this model\'s thresholds unless `--no-check`); '
        f"`dvc artifacts get <repo> {name}` fetches the model.",
    ]
    return "\n".join(lines) + "\n"


def slice_lines(slices: dict[str, Any] | None) -> list[str]:
    """Whose handwriting it reads: the card's writers section (none where evaluate gave none)."""
    if not slices:
        return []
    groups, writers, published = slices["groups"], slices["writers"], slices["published_labels"]
    worst = "; ".join(
        f"{entry['writer']} ({entry['group']}) {entry['accuracy']:.0%} of {entry['images']}"
        for entry in writers["worst"]
    )
    return (
        [
            "## Writers (test set, QMNIST's writer IDs)",
            "",
            f"- Census Bureau employees' digits ({groups['employees']['images']:,}): accuracy "
            f"{groups['employees']['accuracy']:.2%}; high-school students' ({groups['students']['images']:,}): "
            f"{groups['students']['accuracy']:.2%}",
            f"- across its {writers['count']} writers: median {writers['median_accuracy']:.2%}, 5th percentile "
            f"{writers['p05_accuracy']:.2%}; worst (10 digits or more): {worst or 'none'}",
            f"- against MNIST's published labels: accuracy {published['accuracy']:.2%} "
            f"({published['relabelled']} test labels corrected, "
            f"{published['errors_on_relabelled']} of its mistakes on them)",
        ]
        + own_lines(slices.get("own"))
        + [""]
    )


def own_lines(own: dict[str, Any] | None) -> list[str]:
    """Your writers (digits/): the card's line, or how to add them."""
    if not own or not own["images"]:
        return ["- your writers: none yet (digits/README.md says how to add your own digits)"]
    per_writer = ", ".join(f"{writer} {right}/{count}" for writer, (count, right) in own["per_writer"].items())
    return [f"- your writers' digits ({own['images']:,}, digits/): accuracy {own['accuracy']:.2%} ({per_writer})"]


def calibration_lines(calibration: dict[str, Any] | None, log_loss: float) -> list[str]:
    """Is its confidence honest: the card's calibration section (none where evaluate gave none)."""
    if not calibration:
        return []
    return [
        "## Calibration (test set)",
        "",
        f"- expected calibration error {calibration['ece']:.4f} ({calibration['num_bins']} bins), "
        f"maximum {calibration['mce']:.4f}; Brier score {calibration['brier']:.4f}",
        f"- temperature {calibration['temperature']:.3f} (fitted on the validation split): ECE "
        f"{calibration['ece_after_temperature']:.4f}, log loss {calibration['log_loss_after_temperature']:.4f} "
        f"(from {log_loss:.4f}); "
        "the same digits",
        "",
    ]


def robustness_lines(robustness: dict[str, Any] | None) -> list[str]:
    """How it fails away from the clean test set: the card's robustness section."""
    if not robustness:
        return []
    ranked = sorted(robustness["corruption_accuracy"].items(), key=lambda item: item[1])
    ood = robustness["not_a_digit"]
    return [
        "## Robustness",
        "",
        f"- corrupted scans (severity {robustness['severity']}): mean accuracy "
        f"{robustness['mean_corruption_accuracy']:.2%} (clean {robustness['clean_accuracy']:.2%}); worst: "
        + ", ".join(f"{kind.replace('_', ' ')} {accuracy:.2%}" for kind, accuracy in ranked[:3]),
        f"- other writers' digits ({robustness['other_writers']['images']:,}, scikit-learn's): "
        f"accuracy {robustness['other_writers']['accuracy']:.2%}",
        f"- not a digit: AUROC {ood['fashion_mnist']['auroc']:.4f} against Fashion-MNIST, {ood['noise']['auroc']:.4f} "
        f"against noise; at its thresholds it turns away {ood['test_digits_rejected']:.2%} of test digits and "
        f"flags {ood['fashion_mnist']['flagged']:.2%} of clothes and {ood['noise']['flagged']:.2%} of noise",
        "",
    ]
