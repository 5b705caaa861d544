"""Ask the trained models about your own digits: images (PNG, JPEG, BMP, GIF, TIFF) or .npy
arrays, any size, colour or grey, dark ink on light paper or light on dark; a directory means every
image in it. Each is normalised as MNIST was made, then the top 3 digits per model are printed.

Run: `python -m stages.predict my_digit.jpg scans/ [--model NAME | --all] [--onnx] [--json]`.
With --onnx only onnxruntime, NumPy and Pillow are imported (data/export/<name>.onnx), never
TensorFlow or Keras, so a serving machine needs neither.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".npy"}
MODELS_DIR, EXPORT_DIR = Path("data/models"), Path("data/export")
DEFAULT_MODEL = "flagship"
TOP_K = 3
# MNIST's recipe: the digit's bounding box scaled to fit 20x20, centred by its centre of mass in 28x28.
BOX_SIZE, IMAGE_SIZE = 20, 28
# Ink is what stands out from the background by at least this share of the image's contrast;
# JPEG ringing and paper texture stay below it.
INK_THRESHOLD = 0.2
# Below this contrast (grey levels, 0-255) an image holds no ink, only noise: it is blank.
MIN_CONTRAST = 32

Classifier = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 0-255 -> (N, 10)


class ImageError(ValueError):
    """A file that cannot be read as a digit; the message says which file and why."""


def read_grey(path: Path) -> np.ndarray:
    """The file as a 2-D float32 array of grey levels 0-255 (transparent pixels count as paper)."""
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as error:
            raise ImageError(f"{path}: not a readable .npy array ({error})") from None
        array = np.squeeze(array)
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            array = array[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if array.ndim != 2 or min(array.shape) < 2:
            raise ImageError(f"{path}: expected a 2-D image array (H, W) or (H, W, 3), got shape {array.shape}")
        return array * 255 if array.max(initial=0) <= 1 else array
    try:
        with Image.open(path) as image:
            image.load()
            if "A" in image.getbands() or "transparency" in image.info:
                paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(paper, image.convert("RGBA"))
            return np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def normalise(grey: np.ndarray, source: str = "image") -> np.ndarray:
    """MNIST's preprocessing: light ink on dark, cropped to the ink, scaled to fit 20x20 keeping
    the aspect ratio, placed in 28x28 with its centre of mass at the centre. Returns (28, 28)
    float32, 0-255."""
    grey = np.asarray(grey, dtype=np.float32)  # Pillow's "F" mode is float32
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = np.abs(grey - background)  # either polarity becomes light ink on a dark background
    contrast = float(ink.max())
    if contrast < MIN_CONTRAST:
        raise ImageError(f"{source}: no ink found (the image is blank: contrast {contrast:.0f} of 255)")
    ink = np.clip(ink * (255.0 / contrast), 0, 255)
    rows, columns = np.nonzero(ink > INK_THRESHOLD * 255)
    ink = ink[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]
    scale = BOX_SIZE / max(ink.shape)
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    box = np.asarray(Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.LANCZOS))
    box = np.clip(box, 0, 255)
    row_centre, column_centre = (float((box.sum(axis=1 - axis) * np.arange(box.shape[axis])).sum() / box.sum())
                                 for axis in (0, 1))
    top = int(np.clip(round(IMAGE_SIZE / 2 - 0.5 - row_centre), 0, IMAGE_SIZE - height))
    left = int(np.clip(round(IMAGE_SIZE / 2 - 0.5 - column_centre), 0, IMAGE_SIZE - width))
    digit = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    digit[top: top + height, left: left + width] = box
    return digit


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory becomes its image files (sorted), or stays, to fail, if it has
    none. Missing paths stay too, to fail with their own error."""
    expanded = []
    for path in paths:
        images = sorted(child for child in path.iterdir() if child.is_file()
                        and child.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else []
        if images:
            expanded += images
        else:
            expanded.append(path)
    return expanded


def load_digit(path: Path) -> np.ndarray:
    if not path.exists():
        raise ImageError(f"{path}: no such file or directory")
    if path.is_dir():
        raise ImageError(f"{path}: a directory with no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return normalise(read_grey(path), str(path))


def onnx_classifier(path: Path) -> Classifier:
    """Probabilities from an exported model with ONNX Runtime (its CPU provider)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return lambda images: session.run(None, {input_name: images.astype(np.float32)})[0]


def keras_classifier(path: Path) -> Classifier:
    import logging

    import keras  # only the Keras path pays for the training stack

    # --all loads several models, whose predict functions TensorFlow warns it traces one by one.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    model = keras.saving.load_model(path)
    return lambda images: np.asarray(model.predict(images, batch_size=256, verbose=0))


def top_k(probabilities: np.ndarray, k: int = TOP_K) -> list[dict[str, float]]:
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"digit": int(digit), "probability": round(float(probabilities[digit]), 6)} for digit in order]


def predict(paths: list[Path], classifiers: dict[str, Classifier]) -> list[dict]:
    """One record per file: its top digits per model, or the error that stopped it."""
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
        for name, classify in classifiers.items():
            for record, probabilities in zip(good, classify(batch)):
                record.setdefault("predictions", {})[name] = top_k(probabilities)
    return records


def table(records: list[dict]) -> str:
    """A table a person reads: one row per file and model, the top 3 digits with probabilities."""
    rows = [("file", "model", *(f"#{rank + 1}" for rank in range(TOP_K)))]
    for record in records:
        for name, guesses in record.get("predictions", {}).items():
            rows.append((record["file"], name, *(f"{guess['digit']} {guess['probability']:7.2%}" for guess in guesses)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def model_names(requested: str | None, everything: bool, directory: Path, suffix: str) -> list[str]:
    """The one model asked for, or with --all the default variants (params.yaml's train.variants,
    or, on a serving machine without params.yaml, every model in the directory)."""
    if not everything:
        return [requested or DEFAULT_MODEL]
    from stages.config import PARAMS_PATH, load_params

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
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--export-dir", type=Path, default=EXPORT_DIR)
    arguments = parser.parse_args(argv)

    directory, suffix = (arguments.export_dir, ".onnx") if arguments.onnx else (arguments.models_dir, ".keras")
    names = model_names(arguments.model, arguments.all, directory, suffix)
    missing = [name for name in names if not (directory / f"{name}{suffix}").is_file()]
    if missing or not names:
        available = sorted(path.stem for path in directory.glob(f"*{suffix}"))
        wanted = f"model {', '.join(missing)}" if missing else f"{suffix} model"
        print(f"predict: no {wanted} in {directory}; "
              f"available: {available or 'none'}. Train it with `dvc repro`"
              f"{' (export@<name> makes the .onnx)' if arguments.onnx else ''}, or `dvc pull` it.",
              file=sys.stderr)
        return 2
    load = onnx_classifier if arguments.onnx else keras_classifier
    records = predict(arguments.paths, {name: load(directory / f"{name}{suffix}") for name in names})
    for record in records:
        if "error" in record:
            print(f"predict: {record['error']}", file=sys.stderr)
    print(json.dumps(records, indent=2) if arguments.json else table(records))
    return 1 if any("error" in record for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
