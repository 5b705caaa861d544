"""Decode the IDX files in data/raw/ into uint8 tensors in data/prepared/{train,validation,test}.npz,
with labels/corrections.csv applied and QMNIST's writers (data/qmnist/) beside every digit: a
validation split of whole writers (or, with data.validation_split: random, of images), stratified and
seeded, held out of the training images; the test set's digits all kept. Beside them the catalog
(data/prepared/catalog.csv, one row per example) and the inputs' versions (data/prepared/inputs.json).
Run alone: `python -m stages.preprocess` (or `dvc repro preprocess`).
"""

import gzip
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_zoo import runtime
from mnist_zoo.config import (
    CATALOG_PATH,
    CORRECTIONS_PATH,
    DATA_INPUTS_PATH,
    NUM_CLASSES,
    PREPARED_DIR,
    QMNIST_DIR,
    RAW_DIR,
)
from mnist_zoo.data.catalog import catalog_rows, inputs_json, own_catalog_rows, write_catalog
from mnist_zoo.data.corrections import apply_corrections, pixel_sha256, read_corrections
from mnist_zoo.data.dataset import write_split
from mnist_zoo.data.own_digits import DIGITS_DIR, GROUP, folder_digest, in_training, read_own_digits
from mnist_zoo.data.prepare import IDX_FILES, decode_split, split_indices, subset_indices
from mnist_zoo.data.writers import QMNIST_FILES, writers_for
from mnist_zoo.files import atomic_write_bytes
from mnist_zoo.params import load_params

log = logging.getLogger("preprocess")


def main(
    raw_dir: Path = RAW_DIR,
    output_dir: Path = PREPARED_DIR,
    qmnist_dir: Path = QMNIST_DIR,
    corrections_path: Path = CORRECTIONS_PATH,
    digits_dir: Path = DIGITS_DIR,
) -> None:
    data = load_params()["data"]
    corrections = read_corrections(corrections_path)
    own = read_own_digits(digits_dir)  # before anything is written: a bad image stops the stage here
    sources, files = {}, {}
    if corrections_path.is_file():
        files[corrections_path.as_posix()] = hashlib.sha256(corrections_path.read_bytes()).hexdigest()
    for source in ("train", "test"):
        names = [raw_dir / name for name in IDX_FILES[source]] + [qmnist_dir / QMNIST_FILES[source]]
        payloads = [path.read_bytes() for path in names]
        # Each file's content, as fetch verified it: a faithful re-compression is the same data.
        files |= {
            path.name: hashlib.sha256(gzip.decompress(payload)).hexdigest()
            for path, payload in zip(names, payloads, strict=True)
        }
        images, published = decode_split(payloads[0], payloads[1], source)
        writers = writers_for(payloads[2], published, str(names[2]))
        labels, keep = apply_corrections(corrections, source, images, published, corrections_path)
        sources[source] = (images, published, labels, keep, writers)

    images, published, labels, keep, writers = sources["train"]
    kept = np.flatnonzero(keep)
    by_writer = writers.writer[kept] if data["validation_split"] == "writer" else None
    # Stratified by MNIST's own labels: a correction changes a digit's label, never which split
    # (or subset) the other digits land in.
    train, validation = split_indices(
        published[kept], data["validation_size"], data["subset"], data["split_seed"], by_writer
    )
    placed = {"train": {"train": kept[train], "validation": kept[validation]}}
    _, test_published, _, test_keep, _ = sources["test"]
    test_kept = np.flatnonzero(test_keep)
    placed["test"] = {
        "test": test_kept[subset_indices(test_published[test_kept], data["test_subset"], data["split_seed"])]
    }

    # Your own digits: the "own" slice, and with data.own_digits: train, half of them training data.
    trains = in_training(own.ids) if data["own_digits"] == "train" else np.zeros(len(own), dtype=bool)
    own_split = {
        "images": own.images,
        "labels": own.labels,
        "published": own.labels,
        "ids": own.ids,
        "writers": own.writers,
        "groups": np.full(len(own), GROUP),
    }
    catalog = []
    for source, (images, published, labels, keep, writers) in sources.items():
        for split, indices in placed[source].items():
            arrays = {
                "images": images[indices],
                "labels": labels[indices],
                "published": published[indices],
                "ids": np.array([f"{source}:{index}" for index in indices]),
                "writers": writers.writer[indices],
                "groups": writers.group[indices],
            }
            if split == "train" and trains.any():  # the writer column holds names then, as text
                arrays = {
                    key: np.concatenate([value.astype(str) if key == "writers" else value, own_split[key][trains]])
                    for key, value in arrays.items()
                }
            split_images, split_labels = arrays.pop("images"), arrays.pop("labels")
            write_split(output_dir / f"{split}.npz", split_images, split_labels, **arrays)
            log.info(
                "%s: %d images by %d writers, label counts %s",
                split,
                len(split_labels),
                len(np.unique(arrays["writers"])),
                np.bincount(split_labels, minlength=NUM_CLASSES).tolist(),
            )
        hashes = [pixel_sha256(image) for image in images]
        catalog.append(catalog_rows(source, hashes, published, labels, keep, *writers, placed[source]))
    own_split = {key: value[~trains] for key, value in own_split.items()}
    write_split(output_dir / "own.npz", own_split.pop("images"), own_split.pop("labels"), **own_split)
    if len(own):
        catalog.append(own_catalog_rows(own, [pixel_sha256(image) for image in own.images], trains))
        log.info(
            "your digits: %d by %d writers (%s), %d of them training data",
            len(own),
            len(np.unique(own.writers)),
            ", ".join(np.unique(own.writers)),
            int(trains.sum()),
        )
    write_catalog(output_dir / CATALOG_PATH.name, pd.concat(catalog, ignore_index=True))
    split = {
        key: data[key]
        for key in ("validation_split", "validation_size", "split_seed", "subset", "test_subset", "own_digits")
    }
    atomic_write_bytes(
        output_dir / DATA_INPUTS_PATH.name,
        inputs_json(files, corrections_path, len(corrections), split, folder_digest(digits_dir)),
    )
    log.info("catalog: %d examples, %d corrections applied", sum(map(len, catalog)), len(corrections))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
