"""The prepared tensors' file format, in one place: `preprocess` writes data/prepared/<split>.npz
with `write_split`, every model stage reads it with `load_split`."""

from pathlib import Path

import numpy as np

from mnist_zoo.files import write_npz


def write_split(path: Path, images: np.ndarray, labels: np.ndarray, **metadata: np.ndarray) -> None:
    """uint8 images (N, 28, 28) and labels (N,) as one .npz file, written atomically, with what else
    is known of each example (preprocess: its id, published label, writer and writer group)."""
    write_npz(path, images=images, labels=labels, **metadata)


def load_metadata(path: Path, *names: str) -> tuple[np.ndarray, ...]:
    """The named per-example arrays a split carries beside its images (`ids`, `published`, `writers`,
    `groups`); an error naming the file and the rerun when it was written without them."""
    with np.load(path) as arrays:
        missing = [name for name in names if name not in arrays.files]
        if missing:
            raise ValueError(
                f"{path} has no {', '.join(missing)}: it predates the catalog; run `dvc repro preprocess`."
            )
        return tuple(arrays[name] for name in names)


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images with a channel axis, (N, 28, 28, 1), and integer labels (N,)."""
    with np.load(path) as arrays:
        return arrays["images"][..., np.newaxis], arrays["labels"].astype(np.int32)
