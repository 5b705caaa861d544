"""Parse the IDX files in data/raw/ into uint8 tensors in data/prepared/{train,validation,test}.npz.

The validation split is stratified and seeded; the test set is never touched for training.
Run alone: `python -m stages.preprocess` (or `dvc repro preprocess`).
"""

import gzip
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from stages.config import atomic_write_bytes, load_params

log = logging.getLogger("preprocess")

RAW_DIR = Path("data/raw")
OUTPUT_DIR = Path("data/prepared")
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 and 1 dimensions
NUM_CLASSES = 10


def parse_idx(content: bytes, expected_magic: int, name: str) -> np.ndarray:
    """Decode an IDX array (big-endian header, unsigned bytes), checking magic and size."""
    if len(content) < 4:
        raise ValueError(f"{name}: {len(content)} bytes is too short for an IDX header.")
    magic = int.from_bytes(content[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{name}: IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}.")
    num_dimensions = magic & 0xFF
    header_bytes = 4 + 4 * num_dimensions
    if len(content) < header_bytes:
        raise ValueError(f"{name}: truncated IDX header.")
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(num_dimensions))
    expected_bytes = header_bytes + int(np.prod(shape))
    if len(content) != expected_bytes:
        raise ValueError(
            f"{name}: header says shape {shape} ({expected_bytes} bytes) but the file has "
            f"{len(content)} bytes; the file is corrupt, re-run `dvc repro fetch`."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_bytes).reshape(shape)


def load_split(images_gz: bytes, labels_gz: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) as uint8, validated against each other."""
    images = parse_idx(gzip.decompress(images_gz), IMAGE_MAGIC, f"{name} images")
    labels = parse_idx(gzip.decompress(labels_gz), LABEL_MAGIC, f"{name} labels")
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{name} images: shape {images.shape}, expected (N, 28, 28).")
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels.")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"{name} labels: found label {labels.max()}, expected 0-9.")
    return images, labels


def split_indices(
    labels: np.ndarray, validation_size: int, subset: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded (train, validation) indices; `subset` > 0 keeps that many for training.

    Validation is drawn first, so it stays the same whatever `subset` is.
    """
    if not 0 < validation_size < len(labels):
        raise ValueError(
            f"data.validation_size must be between 1 and {len(labels) - 1}, got {validation_size}."
        )
    indices = np.arange(len(labels))
    train, validation = train_test_split(
        indices, test_size=validation_size, stratify=labels, random_state=seed
    )
    train = train[subset_indices(labels[train], subset, seed, key="data.subset")]
    return np.sort(train), np.sort(validation)


def subset_indices(labels: np.ndarray, size: int, seed: int, key: str = "data.test_subset") -> np.ndarray:
    """A stratified, seeded subset of `size` indices into `labels` (0 = all), in order."""
    if not 0 <= size <= len(labels):
        raise ValueError(f"{key} must be 0 (all) or 1-{len(labels)}, got {size}.")
    if size in (0, len(labels)):
        return np.arange(len(labels))
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels,
                                 random_state=seed)
    return np.sort(chosen)


def to_npz_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    return buffer.getvalue()


def validate_params(params: dict[str, Any]) -> tuple[int, int, int, int]:
    keys = ("validation_size", "subset", "test_subset", "split_seed")
    values = {key: params.get(key) for key in keys}
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"data.{key} must be a non-negative integer, got {value!r}.")
    return tuple(values[key] for key in keys)


def main(raw_dir: Path = RAW_DIR, output_dir: Path = OUTPUT_DIR) -> None:
    validation_size, subset, test_subset, seed = validate_params(load_params()["data"])
    train_images, train_labels = load_split(
        (raw_dir / "train-images-idx3-ubyte.gz").read_bytes(),
        (raw_dir / "train-labels-idx1-ubyte.gz").read_bytes(), "train")
    test_images, test_labels = load_split(
        (raw_dir / "t10k-images-idx3-ubyte.gz").read_bytes(),
        (raw_dir / "t10k-labels-idx1-ubyte.gz").read_bytes(), "test")
    train, validation = split_indices(train_labels, validation_size, subset, seed)
    test = subset_indices(test_labels, test_subset, seed)
    splits = {
        "train": (train_images[train], train_labels[train]),
        "validation": (train_images[validation], train_labels[validation]),
        "test": (test_images[test], test_labels[test]),
    }
    for name, (images, labels) in splits.items():
        atomic_write_bytes(output_dir / f"{name}.npz", to_npz_bytes(images, labels))
        log.info("%s: %d images %s, label counts %s", name, len(images), images.shape[1:],
                 np.bincount(labels, minlength=NUM_CLASSES).tolist())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    main()
