"""Calibration: the expected calibration error, the Brier score and temperature scaling, on
synthetic probabilities whose answers are known."""

import numpy as np
import pytest

from mnist_zoo.evaluation import calibration


def confident(labels: np.ndarray, predicted: np.ndarray, confidence: float) -> np.ndarray:
    """Probabilities putting `confidence` on `predicted` and the rest evenly on the other digits."""
    probabilities = np.full((len(labels), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(labels)), predicted] = confidence
    return probabilities


def test_perfectly_calibrated_probabilities_have_an_ece_near_zero():
    """Each image's top probability is the chance it is right: the bins' accuracy is their confidence."""
    rng = np.random.default_rng(0)
    count = 200_000
    labels = rng.integers(0, 10, count)
    confidence = rng.uniform(0.2, 1.0, count)
    right = rng.random(count) < confidence
    predicted = np.where(right, labels, (labels + rng.integers(1, 10, count)) % 10)
    probabilities = np.full((count, 10), 0.0)
    probabilities[np.arange(count), predicted] = confidence
    others = (1 - confidence) / 9
    for digit in range(10):
        probabilities[:, digit] = np.where(predicted == digit, confidence, others)
    ece, mce = calibration.calibration_errors(probabilities, labels, 15)
    assert ece < 0.005 and mce < 0.02


def test_always_sure_gives_an_ece_equal_to_the_error_rate():
    labels = np.arange(1000) % 10
    predicted = labels.copy()
    predicted[:130] = (predicted[:130] + 1) % 10  # 13% wrong, every answer with probability 1
    ece, mce = calibration.calibration_errors(confident(labels, predicted, 1.0), labels, 15)
    assert ece == pytest.approx(0.13) and mce == pytest.approx(0.13)


def test_brier_and_log_loss_of_certain_answers():
    labels = np.array([3, 7])
    assert calibration.brier_score(confident(labels, labels, 1.0), labels) == 0.0
    assert calibration.brier_score(confident(labels, (labels + 1) % 10, 1.0), labels) == pytest.approx(2.0)
    assert calibration.log_loss(confident(labels, labels, 0.5), labels) == pytest.approx(np.log(2))


@pytest.mark.parametrize("temperature", [0.2, 0.7, 1.0, 3.0, 40.0])
def test_temperature_never_changes_the_predicted_digit(temperature):
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.full(10, 0.3), 5000)
    scaled = calibration.with_temperature(probabilities, temperature)
    np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)


def test_the_fitted_temperature_undoes_an_overconfident_model():
    """Labels drawn from softmax(z / 2), the model reporting softmax(z): twice too sure. The fitted
    temperature is about 2 and brings the ECE down, the digits unchanged."""
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (40_000, 10))

    def softmax(values: np.ndarray) -> np.ndarray:
        exponentials = np.exp(values - values.max(axis=1, keepdims=True))
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    truth = softmax(logits / 2)
    labels = np.array([rng.choice(10, p=row) for row in truth])
    reported = softmax(logits)
    temperature = calibration.fit_temperature(reported[:20_000], labels[:20_000])
    assert temperature == pytest.approx(2.0, rel=0.05)
    report = calibration.calibration_report(reported[20_000:], labels[20_000:], reported[:20_000], labels[:20_000], 15)
    assert report["ece_after_temperature"] < 0.5 * report["ece"]
    assert report["log_loss_after_temperature"] < calibration.log_loss(reported[20_000:], labels[20_000:])


def test_the_reliability_bins_count_every_image_once():
    labels = np.arange(100) % 10
    probabilities = confident(labels, labels, 0.95)
    probabilities[:10] = confident(labels[:10], labels[:10], 0.3)
    bins = calibration.reliability(probabilities, labels, 10)
    assert bins.count.sum() == 100 and bins.count[9] == 90 and bins.count[2] == 10
    csv = calibration.reliability_csv(bins).decode().splitlines()
    assert csv[0] == "bin_lower,bin_upper,count,confidence,accuracy" and len(csv) == 3  # the two filled bins
