"""A profile (e.g. bench/pull_request_profile.yaml): params.yaml keys set to other values, as
`dvc exp run -S key=value` sets them, and the train/validation/test tensors those params prepare."""

import copy
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mnist_zoo.config import PREPARED_DIR, RAW_DIR
from mnist_zoo.data.dataset import load_split
from mnist_zoo.schema import check_params

SPLITS = ("train", "validation", "test")


def load_profile(path: Path) -> dict[str, Any]:
    """Dotted params keys and their values."""
    profile = yaml.safe_load(path.read_text())
    if not isinstance(profile, dict):
        raise ValueError(f"{path}: expected a mapping of params keys to values, e.g. `model.epochs: 4`.")
    return profile


def apply_profile(params: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """`params` with the profile's keys set, checked by the schema (a key it misspells is refused)."""
    changed = copy.deepcopy(params)
    for dotted, value in profile.items():
        *parents, last = dotted.split(".")
        section = changed
        for key in parents:
            if not isinstance(section.get(key), dict):
                raise ValueError(f"profile key {dotted!r}: params.yaml has no section {key!r} there.")
            section = section[key]
        section[last] = value
    check_params(changed)
    return changed


def splits_for(params: dict[str, Any], prepared_dir: Path = PREPARED_DIR, raw_dir: Path = RAW_DIR) -> dict[str, tuple]:
    """The tensors `params` train, select and test on: the prepared files when params.yaml's own data
    params made them, else made here from the raw MNIST files by preprocess's own code."""
    from mnist_zoo.params import load_params

    if params["data"] == load_params()["data"] and (prepared_dir / "train.npz").is_file():
        return {split: load_split(prepared_dir / f"{split}.npz") for split in SPLITS}
    from mnist_zoo.data.prepare import IDX_FILES, decode_split, split_indices, subset_indices

    if not all((raw_dir / name).is_file() for files in IDX_FILES.values() for name in files):
        raise SystemExit(
            f"Neither {prepared_dir}/*.npz nor the four MNIST files in {raw_dir}: run `dvc repro preprocess`."
        )
    data = params["data"]
    (train_images, train_labels), (test_images, test_labels) = (
        decode_split(*((raw_dir / name).read_bytes() for name in IDX_FILES[split]), split)
        for split in ("train", "test")
    )
    train, validation = split_indices(train_labels, data["validation_size"], data["subset"], data["split_seed"])
    test = subset_indices(test_labels, data["test_subset"], data["split_seed"])

    def split(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return images[indices][..., np.newaxis], labels[indices].astype(np.int32)

    return {
        "train": split(train_images, train_labels, train),
        "validation": split(train_images, train_labels, validation),
        "test": split(test_images, test_labels, test),
    }
