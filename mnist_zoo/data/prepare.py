"""MNIST's IDX files decoded into uint8 arrays and cut into the splits the pipeline trains,
selects and tests on: a validation split held out of the training images, stratified by class and
seeded, by default of whole writers (none of them wrote a training digit, as no test writer did),
and optional stratified subsets for quick runs. The test set is never touched for training.
"""

import gzip

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from mnist_zoo.config import IMAGE_SIZE, NUM_CLASSES

IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 and 1 dimensions
# MNIST's file names: (images, labels) per split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


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
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(num_dimensions))
    expected_bytes = header_bytes + int(np.prod(shape))
    if len(content) != expected_bytes:
        raise ValueError(
            f"{name}: header says shape {shape} ({expected_bytes} bytes) but the file has "
            f"{len(content)} bytes; the file is corrupt, re-run `dvc repro fetch`."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_bytes).reshape(shape)


def decode_split(images_gz: bytes, labels_gz: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) as uint8, validated against each other."""
    images = parse_idx(gzip.decompress(images_gz), IMAGE_MAGIC, f"{name} images")
    labels = parse_idx(gzip.decompress(labels_gz), LABEL_MAGIC, f"{name} labels")
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{name} images: shape {images.shape}, expected (N, {IMAGE_SIZE}, {IMAGE_SIZE}).")
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels.")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"{name} labels: found label {labels.max()}, expected 0-9.")
    return images, labels


def split_indices(
    labels: np.ndarray, validation_size: int, subset: int, seed: int, writers: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded (train, validation) indices; `subset` > 0 keeps that many for training.

    With `writers`, validation is whole writers (scikit-learn's StratifiedGroupKFold, one fold of
    about `validation_size` images): none of them wrote a training digit, so the split a model is
    chosen on has unseen writers, as the test set has. Without, `validation_size` images at random.
    Validation is drawn first, so it stays the same whatever `subset` is.
    """
    if not 0 < validation_size < len(labels):
        raise ValueError(f"data.validation_size must be between 1 and {len(labels) - 1}, got {validation_size}.")
    indices = np.arange(len(labels))
    if writers is None:
        train, validation = train_test_split(indices, test_size=validation_size, stratify=labels, random_state=seed)
    else:
        # A validation_size under one writer's share (a quick profile's 100 of 60,000) is one fold per
        # writer: validation is at least one whole writer.
        num_folds = min(max(2, round(len(labels) / validation_size)), len(np.unique(writers)))
        folds = StratifiedGroupKFold(n_splits=num_folds, shuffle=True, random_state=seed)
        train, validation = next(folds.split(indices, labels, groups=writers))
    train = train[subset_indices(labels[train], subset, seed, key="data.subset")]
    return np.sort(train), np.sort(validation)


def subset_indices(labels: np.ndarray, size: int, seed: int, key: str = "data.test_subset") -> np.ndarray:
    """A stratified, seeded subset of `size` indices into `labels` (0 = all), in order."""
    if not 0 <= size <= len(labels):
        raise ValueError(f"{key} must be 0 (all) or 1-{len(labels)}, got {size}.")
    if size in (0, len(labels)):
        return np.arange(len(labels))
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(chosen)
