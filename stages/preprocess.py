"""Decode the IDX files in data/raw/ into uint8 tensors in data/prepared/{train,validation,test}.npz:
a stratified, seeded validation split held out of the training images; the test set untouched.
Run alone: `python -m stages.preprocess` (or `dvc repro preprocess`).
"""

import logging
from pathlib import Path

import numpy as np

from mnist_zoo import runtime
from mnist_zoo.config import NUM_CLASSES, PREPARED_DIR, RAW_DIR
from mnist_zoo.data.dataset import write_split
from mnist_zoo.data.prepare import IDX_FILES, decode_split, split_indices, subset_indices
from mnist_zoo.params import load_params

log = logging.getLogger("preprocess")


def main(raw_dir: Path = RAW_DIR, output_dir: Path = PREPARED_DIR) -> None:
    data = load_params()["data"]
    (train_images, train_labels), (test_images, test_labels) = (
        decode_split(*((raw_dir / name).read_bytes() for name in IDX_FILES[split]), split)
        for split in ("train", "test")
    )
    train, validation = split_indices(train_labels, data["validation_size"], data["subset"], data["split_seed"])
    test = subset_indices(test_labels, data["test_subset"], data["split_seed"])
    splits = {
        "train": (train_images[train], train_labels[train]),
        "validation": (train_images[validation], train_labels[validation]),
        "test": (test_images[test], test_labels[test]),
    }
    for name, (images, labels) in splits.items():
        write_split(output_dir / f"{name}.npz", images, labels)
        log.info(
            "%s: %d images %s, label counts %s",
            name,
            len(images),
            images.shape[1:],
            np.bincount(labels, minlength=NUM_CLASSES).tolist(),
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
