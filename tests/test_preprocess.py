"""preprocess: IDX validation, the stratified seeded split, and the cached uint8 tensors."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo.data import prepare
from stages import preprocess
from tests.conftest import idx_bytes, update_params, write_mnist_gz

MNIST_MIRROR = os.environ.get("MNIST_MIRROR")


def test_parse_idx_round_trip():
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    parsed = prepare.parse_idx(idx_bytes(array), prepare.IMAGE_MAGIC, "x")
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize(
    "content, message",
    [
        (idx_bytes(np.zeros(5, np.uint8)), "magic number 0x00000801, expected 0x00000803"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-1], r"shape \(2, 28, 28\).*corrupt"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"x", "corrupt"),
        (b"\x00\x00", "too short"),
    ],
)
def test_parse_idx_rejects_malformed_files(content, message):
    with pytest.raises(ValueError, match=message):
        prepare.parse_idx(content, prepare.IMAGE_MAGIC, "train images")


def test_labels_outside_0_to_9_are_rejected():
    images = gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    labels = gzip.compress(idx_bytes(np.array([3, 12], np.uint8)))
    with pytest.raises(ValueError, match="label 12, expected 0-9"):
        prepare.decode_split(images, labels, "train")


def test_image_and_label_counts_must_agree():
    images = gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    labels = gzip.compress(idx_bytes(np.array([3, 1], np.uint8)))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        prepare.decode_split(images, labels, "train")


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(10), 100)
    train, validation = prepare.split_indices(labels, validation_size=200, subset=0, seed=7)
    assert len(train) == 800 and len(validation) == 200
    assert not set(train) & set(validation)
    assert np.bincount(labels[validation]).tolist() == [20] * 10
    again = prepare.split_indices(labels, 200, 0, seed=7)
    np.testing.assert_array_equal(again[1], validation)
    other_seed = prepare.split_indices(labels, 200, 0, seed=8)
    assert not np.array_equal(other_seed[1], validation)


def test_subset_keeps_the_validation_set_and_stays_stratified():
    labels = np.repeat(np.arange(10), 100)
    full_train, validation = prepare.split_indices(labels, 200, 0, seed=7)
    subset_train, subset_validation = prepare.split_indices(labels, 200, 300, seed=7)
    np.testing.assert_array_equal(subset_validation, validation)
    assert len(subset_train) == 300 and set(subset_train) <= set(full_train)
    assert np.bincount(labels[subset_train]).tolist() == [30] * 10


@pytest.mark.parametrize(
    "validation_size, subset, message",
    [
        (0, 0, "validation_size must be between 1 and 999"),
        (1000, 0, "validation_size must be between 1 and 999"),
        (100, 901, "subset must be 0 .all. or 1-900"),
    ],
)
def test_bad_split_sizes_name_the_key_and_the_valid_range(validation_size, subset, message):
    with pytest.raises(ValueError, match=message):
        prepare.split_indices(np.repeat(np.arange(10), 100), validation_size, subset, seed=0)


def test_test_subset_is_stratified_seeded_and_zero_means_all():
    labels = np.repeat(np.arange(10), 50)
    chosen = prepare.subset_indices(labels, 100, seed=3)
    assert len(chosen) == 100 and np.all(np.diff(chosen) > 0)
    assert np.bincount(labels[chosen]).tolist() == [10] * 10
    np.testing.assert_array_equal(chosen, prepare.subset_indices(labels, 100, seed=3))
    np.testing.assert_array_equal(prepare.subset_indices(labels, 0, seed=3), np.arange(500))
    with pytest.raises(ValueError, match="data.test_subset must be 0 .all. or 1-500, got 501"):
        prepare.subset_indices(labels, 501, seed=3)


def test_bad_params_are_refused_before_reading_data(in_tmp_project: Path):
    update_params(in_tmp_project / "params.yaml", {"data.subset": -5})
    with pytest.raises(ValueError, match=r"data.subset is -5; allowed: 0 \(all\) or a whole number >= 10"):
        preprocess.main()  # there is no data/raw here: reading it would be a FileNotFoundError


def test_main_writes_compact_uint8_tensors(in_tmp_project: Path):
    write_mnist_gz(in_tmp_project / "data" / "raw", num_train=300, num_test=100)
    update_params(
        in_tmp_project / "params.yaml", {"data.validation_size": 50, "data.subset": 200, "data.test_subset": 40}
    )
    preprocess.main(qmnist_dir=in_tmp_project / "data" / "raw")
    sizes = {}
    for split in ("train", "validation", "test"):
        with np.load(in_tmp_project / "data" / "prepared" / f"{split}.npz") as arrays:
            assert arrays["images"].dtype == np.uint8 and arrays["images"].shape[1:] == (28, 28)
            assert arrays["labels"].dtype == np.uint8
            sizes[split] = len(arrays["labels"])
    assert sizes == {"train": 200, "validation": 50, "test": 40}


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_MIRROR, reason="set MNIST_MIRROR to the four real MNIST *-ubyte.gz files")
def test_real_mnist_has_the_known_counts(in_tmp_project: Path):
    from mnist_zoo.data import download

    download.fetch_all(download.MNIST, [MNIST_MIRROR], Path("data/raw"), timeout_seconds=60)
    train_images, train_labels = prepare.decode_split(
        Path("data/raw/train-images-idx3-ubyte.gz").read_bytes(),
        Path("data/raw/train-labels-idx1-ubyte.gz").read_bytes(),
        "train",
    )
    test_images, _ = prepare.decode_split(
        Path("data/raw/t10k-images-idx3-ubyte.gz").read_bytes(),
        Path("data/raw/t10k-labels-idx1-ubyte.gz").read_bytes(),
        "test",
    )
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert np.bincount(train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    shutil.rmtree("data")
