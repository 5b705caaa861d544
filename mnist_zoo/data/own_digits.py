"""Your own digits: a folder of a person's labelled images, `digits/<writer>/<digit>/<image>`, each
image any size or format `mnist-predict` reads (digits.py), normalised the same way. Each writer's
folder is tracked with `dvc add digits/<writer>`; preprocess makes them the "your writers" slice
that every evaluation reports, and with `data.own_digits: train` half of them training data too.

An example's id is its path under the folder (`own:alice/3/0001.png`), stable as digits are added.
"""

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnist_zoo.config import IMAGE_SIZE, NUM_CLASSES
from mnist_zoo.data.digits import IMAGE_SUFFIXES, ImageError, load_digit

DIGITS_DIR = Path("digits")  # beside dvc.yaml; digits/README.md says how to fill it
SOURCE = "own"  # the catalog's source and the id's prefix
GROUP = "own"  # the writer group of every digit here: the "your writers" slice
# Files a folder may hold beside its writers: git's and DVC's own, and the folder's README.
IGNORED = {"README.md", ".gitignore"}


class OwnDigits(NamedTuple):
    """Every digit in the folder, in path order: uint8 images (N, 28, 28), labels, ids, writers."""

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    writers: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _entries(folder: Path) -> list[Path]:
    """What a folder holds, hidden files (.DS_Store, a .dvc's lock) left out, in name order."""
    return sorted(path for path in folder.iterdir() if not path.name.startswith("."))


def read_own_digits(root: Path = DIGITS_DIR) -> OwnDigits:
    """The folder's digits, normalised as MNIST's were; none where it does not exist. A file in the
    wrong place, a folder not named 0-9 or an image that holds no digit is an ImageError naming it."""
    images, labels, ids, writers = [], [], [], []
    for writer in _entries(root) if root.is_dir() else []:
        if writer.name in IGNORED or writer.suffix == ".dvc":
            continue
        if not writer.is_dir():
            raise ImageError(
                f"{writer}: a file where a writer's folder belongs; put each image in {root}/<writer>/<digit>/."
            )
        for digit in _entries(writer):
            if not (digit.is_dir() and digit.name.isdigit() and int(digit.name) < NUM_CLASSES):
                raise ImageError(
                    f"{digit}: expected only folders named 0-9 (the label of the images in them) in {writer}; "
                    "move it into one, or out of the folder."
                )
            for image in _entries(digit):
                if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
                    raise ImageError(
                        f"{image}: not an image mnist-predict reads (one of {', '.join(sorted(IMAGE_SUFFIXES))}); "
                        "convert or remove it."
                    )
                images.append(np.round(load_digit(image)).astype(np.uint8))
                labels.append(int(digit.name))
                ids.append(f"{SOURCE}:{image.relative_to(root).as_posix()}")
                writers.append(writer.name)
    return OwnDigits(
        np.array(images, dtype=np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        np.array(labels, dtype=np.uint8),
        np.array(ids, dtype=str),
        np.array(writers, dtype=str),
    )


def in_training(ids: np.ndarray) -> np.ndarray:
    """With `data.own_digits: train`, which digits train (the rest stay the slice, read as unseen):
    every other one by its id's hash, so a digit keeps its side as others are added."""
    return np.array([hashlib.sha256(str(identifier).encode()).digest()[0] % 2 == 0 for identifier in ids], dtype=bool)


def folder_digest(root: Path = DIGITS_DIR) -> dict[str, dict[str, object]]:
    """Per writer, its images and the SHA-256 of their paths and bytes: the data card's version of
    the folder."""
    found: dict[str, dict[str, object]] = {}
    for image in sorted(root.glob("*/*/*")) if root.is_dir() else []:
        if image.is_file() and not any(part.startswith(".") for part in image.relative_to(root).parts):
            entry = found.setdefault(image.parts[-3], {"images": 0, "digest": hashlib.sha256()})
            entry["images"] += 1
            entry["digest"].update(image.relative_to(root).as_posix().encode() + b"\0" + image.read_bytes())
    return {
        writer: {"images": entry["images"], "sha256": entry["digest"].hexdigest()} for writer, entry in found.items()
    }
