"""The prepared tensors' file format, in one place: `preprocess` writes data/prepared/<split>.npz
with `to_npz_bytes`, every model stage reads it with `load_split`."""

from pathlib import Path

import numpy as np


def to_npz_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """uint8 images (N, 28, 28) and labels (N,) as one .npz file's bytes."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    return buffer.getvalue()


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images with a channel axis, (N, 28, 28, 1), and integer labels (N,)."""
    with np.load(path) as arrays:
        return arrays["images"][..., np.newaxis], arrays["labels"].astype(np.int32)
