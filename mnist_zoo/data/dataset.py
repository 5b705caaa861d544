"""The prepared tensors' file format, in one place: `preprocess` writes data/prepared/<split>.npz
with `write_split`, every model stage reads it with `load_split`."""

from pathlib import Path

import numpy as np

from mnist_zoo.files import write_npz


def write_split(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """uint8 images (N, 28, 28) and labels (N,) as one .npz file, written atomically."""
    write_npz(path, images=images, labels=labels)


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images with a channel axis, (N, 28, 28, 1), and integer labels (N,)."""
    with np.load(path) as arrays:
        return arrays["images"][..., np.newaxis], arrays["labels"].astype(np.int32)
