"""Ask the trained models about your own digits: images (PNG, JPEG, BMP, GIF, TIFF) or .npy
arrays, any size, colour or grey, dark ink on light paper or light on dark; a directory means every
image in it. Each is normalised as MNIST was made, then the top 3 digits per model are printed.

Run: `mnist-predict my_digit.jpg scans/ [--model NAME | --all] [--onnx] [--json]` (or
`python -m mnist_zoo.tools.predict ...`). With --onnx only onnxruntime, NumPy and Pillow are imported
(data/export/<name>.onnx), never TensorFlow or Keras, so a serving machine needs neither.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mnist_zoo import runtime
from mnist_zoo.config import EXPORT_DIR, MODELS_DIR, PARAMS_PATH, ROBUSTNESS_DIR, TYPICALITY_PATH
from mnist_zoo.data.digits import IMAGE_SUFFIXES, ImageError, load_digit
from mnist_zoo.data.typicality import Typicality, is_digit, max_softmax, typicalities
from mnist_zoo.data.typicality import load as load_typicality
from mnist_zoo.shipping.inference import Classifier, keras_classifier, onnx_classifier

DEFAULT_MODEL = "flagship"
TOP_K = 3


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory becomes its image files (sorted), or stays, to fail, if it has
    none. Missing paths stay too, to fail with their own error."""
    expanded = []
    for path in paths:
        images = (
            sorted(child for child in path.iterdir() if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES)
            if path.is_dir()
            else []
        )
        if images:
            expanded += images
        else:
            expanded.append(path)
    return expanded


def top_k(probabilities: np.ndarray, k: int = TOP_K) -> list[dict[str, float]]:
    """The `k` likeliest digits, likeliest first, with their probabilities."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"digit": int(digit), "probability": round(float(probabilities[digit]), 6)} for digit in order]


NOT_A_DIGIT = "not a digit"


def predict(
    paths: list[Path],
    classifiers: dict[str, Classifier],
    thresholds: dict[str, dict[str, float]] | None = None,
    basis: Typicality | None = None,
) -> list[dict]:
    """One record per file: its top digits per model and each model's answer (the top digit, or
    "not a digit" where the model has `thresholds` and the image fails them), or the error that
    stopped it."""
    thresholds = thresholds or {}
    records, digits = [], []
    for path in expand(paths):
        try:
            digits.append(load_digit(path))
            records.append({"file": str(path)})
        except ImageError as error:
            records.append({"file": str(path), "error": str(error)})
    if digits:
        batch = np.stack(digits)[..., np.newaxis]
        good = [record for record in records if "error" not in record]
        looks = None if basis is None else typicalities(batch, basis)
        for name, classify in classifiers.items():
            probabilities = classify(batch)
            verdicts = (
                np.ones(len(batch), dtype=bool)
                if name not in thresholds or looks is None
                else is_digit({"confidence": max_softmax(probabilities), **looks}, thresholds[name])
            )
            for index, record in enumerate(good):
                record.setdefault("predictions", {})[name] = top_k(probabilities[index])
                answer = int(probabilities[index].argmax()) if verdicts[index] else NOT_A_DIGIT
                record.setdefault("answer", {})[name] = answer
                if looks is not None:
                    record["typicality"] = {score: round(float(values[index]), 4) for score, values in looks.items()}
    return records


def table(records: list[dict]) -> str:
    """A table a person reads: one row per file and model, its answer (a digit, or "not a digit"),
    then the top 3 digits with probabilities."""
    rows = [("file", "model", "answer", *(f"#{rank + 1}" for rank in range(TOP_K)))]
    for record in records:
        for name, guesses in record.get("predictions", {}).items():
            rows.append(
                (
                    record["file"],
                    name,
                    str(record["answer"][name]),
                    *(f"{guess['digit']} {guess['probability']:7.2%}" for guess in guesses),
                )
            )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def digit_checks(names: list[str], robustness_dir: Path, typicality_path: Path) -> tuple[dict, Typicality | None]:
    """Each model's "not a digit" thresholds (robustness@<name> chose them) and the digits'
    typicality basis, where they exist; a note on stderr for each model that has none."""
    if not typicality_path.is_file():
        print(
            f'predict: no {typicality_path}: the "not a digit" check is off '
            "(dvc repro ship/dvc.yaml:typicality makes it).",
            file=sys.stderr,
        )
        return {}, None
    thresholds = {}
    for name in names:
        path = robustness_dir / f"{name}.json"
        if path.is_file():
            thresholds[name] = json.loads(path.read_text())["not_a_digit"]["threshold"]
        else:
            print(
                f"predict: no {path}: {name} answers its top digit for any image "
                f'(dvc repro ship/dvc.yaml:robustness@{name} chooses its "not a digit" thresholds).',
                file=sys.stderr,
            )
    return thresholds, load_typicality(typicality_path)


def model_names(requested: str | None, everything: bool, directory: Path, suffix: str) -> list[str]:
    """The one model asked for, or with --all the default variants (params.yaml's train.variants,
    or, on a serving machine without params.yaml, every model in the directory)."""
    if not everything:
        return [requested or DEFAULT_MODEL]
    from mnist_zoo.params import load_params  # the schema, only for --all

    if PARAMS_PATH.exists():
        return list(load_params()["train"]["variants"])
    return sorted(path.stem for path in directory.glob(f"*{suffix}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="image files, .npy arrays or directories")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--model", help=f"a trained variant (default {DEFAULT_MODEL})")
    choice.add_argument("--all", action="store_true", help="every default variant, side by side")
    parser.add_argument("--onnx", action="store_true", help="run data/export/<name>.onnx with ONNX Runtime")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--no-check", action="store_true", help='answer the top digit for any image, never "not a digit"'
    )
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--export-dir", type=Path, default=EXPORT_DIR)
    parser.add_argument(
        "--robustness-dir",
        type=Path,
        default=ROBUSTNESS_DIR,
        help='where each model\'s "not a digit" thresholds are (<name>.json)',
    )
    parser.add_argument(
        "--typicality", type=Path, default=TYPICALITY_PATH, help="the digits' principal components (typicality.npz)"
    )
    arguments = parser.parse_args(argv)
    runtime.start()  # before the Keras path imports Keras

    directory, suffix = (arguments.export_dir, ".onnx") if arguments.onnx else (arguments.models_dir, ".keras")
    names = model_names(arguments.model, arguments.all, directory, suffix)
    missing = [name for name in names if not (directory / f"{name}{suffix}").is_file()]
    if missing or not names:
        available = sorted(path.stem for path in directory.glob(f"*{suffix}"))
        wanted = f"model {', '.join(missing)}" if missing else f"{suffix} model"
        print(
            f"predict: no {wanted} in {directory}; "
            f"available: {available or 'none'}. Train it with `dvc repro`"
            f"{' (ship/dvc.yaml:export@<name> makes the .onnx)' if arguments.onnx else ''}, or `dvc pull` it.",
            file=sys.stderr,
        )
        return 2
    load = onnx_classifier if arguments.onnx else keras_classifier
    thresholds, basis = (
        ({}, None) if arguments.no_check else digit_checks(names, arguments.robustness_dir, arguments.typicality)
    )
    records = predict(arguments.paths, {name: load(directory / f"{name}{suffix}") for name in names}, thresholds, basis)
    for record in records:
        if "error" in record:
            print(f"predict: {record['error']}", file=sys.stderr)
    print(json.dumps(records, indent=2) if arguments.json else table(records))
    return 1 if any("error" in record for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
