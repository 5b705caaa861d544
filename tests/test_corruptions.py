"""Corrupted scans: every corruption keeps the images' shape, dtype and range, is the same for the
same seed and severity, and the identity is the clean test set."""

import numpy as np
import pytest

from mnist_zoo.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from mnist_zoo.schema import CORRUPTION_KINDS
from tests.conftest import synthetic_digits

IMAGES = synthetic_digits(64, seed=3)[0]


def test_the_schema_knows_exactly_the_corruptions_there_are():
    assert set(CORRUPTION_KINDS) == set(CORRUPTIONS)


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_each_corruption_is_deterministic_and_keeps_shape_dtype_and_range(kind):
    for severity in (1, 5):
        once = corrupt(IMAGES, kind, severity, seed=7)
        assert once.shape == IMAGES.shape and once.dtype == np.uint8
        np.testing.assert_array_equal(once, corrupt(IMAGES, kind, severity, seed=7))
    if kind != "identity":
        assert not np.array_equal(corrupt(IMAGES, kind, 3, seed=7), IMAGES), kind
    np.testing.assert_array_equal(IMAGES, synthetic_digits(64, seed=3)[0])  # the input untouched


@pytest.mark.parametrize("kind", ["shot_noise", "rotate", "zigzag", "glass_blur"])
def test_the_seed_and_the_severity_matter(kind):
    assert not np.array_equal(corrupt(IMAGES, kind, 3, seed=1), corrupt(IMAGES, kind, 3, seed=2))
    mild, strong = (corrupt(IMAGES, kind, severity, seed=1) for severity in (1, 5))
    assert np.abs(strong.astype(int) - IMAGES).mean() > np.abs(mild.astype(int) - IMAGES).mean()


def test_the_identity_gives_the_clean_accuracy():
    """Scored as the robustness stage scores a corruption: the identity's accuracy is the clean one."""
    images, labels = synthetic_digits(500, seed=4)

    def accuracy(batch: np.ndarray) -> float:  # a fixed classifier: the digit whose patch is brightest
        patches = [
            batch[:, 2 + 8 * (digit // 4) : 8 + 8 * (digit // 4), 2 + 6 * (digit % 4) : 8 + 6 * (digit % 4)].mean(
                axis=(1, 2)
            )
            for digit in range(10)
        ]
        return float(np.mean(np.argmax(patches, axis=0) == labels))

    assert accuracy(corrupt(images, "identity", 3, seed=0)) == accuracy(images) == 1.0
    assert accuracy(corrupt(images, "translate", 5, seed=0)) < 1.0


def test_a_severity_outside_one_to_five_is_refused():
    assert list(SEVERITIES) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="severity is 6; give 1 .mild. to 5 .strong."):
        corrupt(IMAGES, "rotate", 6, seed=0)
