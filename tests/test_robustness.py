"""Robustness: the "not a digit" scores, their AUROC and thresholds, the digits' typicality, and
other writers' digits brought to MNIST's format."""

import numpy as np
import pytest

from mnist_zoo.data import typicality
from mnist_zoo.evaluation import robustness
from tests.conftest import synthetic_digits


def test_auroc_of_a_separable_toy_is_one_and_of_its_reverse_zero():
    digit_scores, other_scores = np.array([0.9, 0.8, 0.95, 0.7]), np.array([0.1, 0.5, 0.3])
    assert robustness.auroc(digit_scores, other_scores) == 1.0
    assert robustness.auroc(other_scores, digit_scores) == 0.0
    assert robustness.auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5  # ties count half


def test_the_threshold_keeps_at_least_the_share_asked_for():
    scores = np.random.default_rng(0).normal(size=999)
    for rate in (0.5, 0.9, 0.95, 0.99):
        threshold = robustness.threshold_at(scores, rate)
        assert np.mean(scores >= threshold) >= rate
        assert np.mean(scores >= np.nextafter(threshold, np.inf)) < rate  # and no more than needed
    others = np.array([-10.0, 0.0, 10.0])
    assert robustness.false_positive_rate(scores, others, 0.5) == pytest.approx(2 / 3)  # 0 and 10 pass the median


def test_not_a_digit_thresholds_keep_the_validation_digits_and_flag_the_rest():
    rng = np.random.default_rng(1)

    def scores(centre: float, count: int) -> dict[str, np.ndarray]:
        return {name: rng.normal(centre, 1.0, count) for name in ("confidence", "reconstruction", "neighbours", "ink")}

    validation, test = scores(10.0, 4000), scores(10.0, 4000)
    figures = robustness.not_a_digit(validation, test, {"far": scores(-10.0, 500), "near": scores(9.0, 500)}, 0.95)
    assert set(figures["threshold"]) == {"confidence", "reconstruction", "neighbours", "ink"}
    assert figures["test_digits_rejected"] <= 0.06  # four thresholds, each missing a quarter of the 5%
    # Together the scores rank by the validation digits: a test digit below them all ties with the far ones.
    assert figures["far"]["auroc"] >= 0.999 and figures["far"]["flagged"] == 1.0 and figures["far"]["fpr_at_tpr"] == 0.0
    assert figures["far"]["auroc_confidence"] == 1.0
    assert 0.5 < figures["near"]["auroc"] < 1.0 and figures["near"]["flagged"] < 1.0
    assert typicality.is_digit(validation, figures["threshold"]).mean() >= 0.95


def test_noise_is_not_typical_of_digits_and_the_basis_round_trips(tmp_path):
    images, _ = synthetic_digits(600, seed=5)
    basis = typicality.fit(images[:500], num_components=20)
    path = tmp_path / "typicality.npz"
    typicality.write(path, basis)
    loaded = typicality.load(path)
    np.testing.assert_array_equal(loaded.components, basis.components)
    held_out, noise = (
        typicality.typicalities(images[500:], loaded),
        typicality.typicalities(robustness.noise_images(100, 0), loaded),
    )
    for score in ("reconstruction", "neighbours", "ink"):
        assert robustness.auroc(held_out[score], noise[score]) == 1.0, score


def test_other_writers_digits_arrive_in_mnists_format():
    images, labels = robustness.other_writers()
    assert images.shape == (1797, 28, 28) and images.dtype == np.float32 and labels.shape == (1797,)
    assert set(labels.tolist()) == set(range(10))
    assert images.max() == pytest.approx(255, abs=1) and images[:, 0, :].max() == 0  # light ink, dark border
    rows, columns = np.nonzero(images[0] > 0)
    assert max(rows.max() - rows.min(), columns.max() - columns.min()) + 1 <= 20  # fitted in 20x20


def test_the_library_judges_any_classifier_on_the_prepared_corrupted_and_other_images(tmp_path):
    """robustness_record takes the model as a function of images, so a test hands it a rule: here
    one that reads the synthetic digits' patch (right on clean digits) and is fooled by noise."""
    import gzip

    from mnist_zoo.data.download import FASHION_MNIST
    from tests.conftest import idx_bytes, write_prepared

    write_prepared(tmp_path / "prepared")
    corrupted = tmp_path / "corrupted"
    corrupted.mkdir()
    with np.load(tmp_path / "prepared" / "test.npz") as test:
        clean, labels = test["images"], test["labels"]
    blank = np.zeros_like(clean)
    np.savez(corrupted / "shot_noise.npz", images=clean, labels=labels)
    np.savez(corrupted / "blank.npz", images=blank, labels=labels)
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    clothes, clothes_labels = synthetic_digits(50, seed=9)
    for name, array in zip(FASHION_MNIST.files, (255 - clothes, clothes_labels), strict=True):
        (fashion / name).write_bytes(gzip.compress(idx_bytes(array)))

    def patch_reader(images: np.ndarray) -> np.ndarray:
        """The class whose 6x6 patch (conftest.synthetic_digits) is brightest, sure of it."""
        images = images.reshape(-1, 28, 28).astype(float)
        means = np.stack(
            [
                images[:, 2 + 8 * (k // 4) : 8 + 8 * (k // 4), 2 + 6 * (k % 4) : 8 + 6 * (k % 4)].mean(axis=(1, 2))
                for k in range(10)
            ],
            axis=1,
        )
        found = np.full((len(images), 10), 0.001)
        found[np.arange(len(images)), means.argmax(axis=1)] = 0.991
        return found

    images, _ = synthetic_digits(300, seed=5)
    settings = {
        "corruptions": ["shot_noise", "blank"],
        "severity": 3,
        "noise_images": 40,
        "seed": 0,
        "true_positive_rate": 0.95,
    }
    record = robustness.robustness_record(
        patch_reader, typicality.fit(images, 20), settings, tmp_path / "prepared", corrupted, fashion
    )
    assert record["clean_accuracy"] == 1.0 and record["corruption_accuracy"]["shot_noise"] == 1.0
    assert record["corruption_accuracy"]["blank"] == round(float(np.mean(labels == 0)), 6)  # all read as 0
    assert record["mean_corruption_accuracy"] == pytest.approx((1.0 + record["corruption_accuracy"]["blank"]) / 2)
    assert record["other_writers"]["images"] == 1797 and 0 <= record["other_writers"]["accuracy"] <= 1
    assert set(record["not_a_digit"]) >= {"fashion_mnist", "noise"}
    assert record["not_a_digit"]["noise"]["auroc"] > 0.9
