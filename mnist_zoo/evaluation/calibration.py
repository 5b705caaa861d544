"""Is a model's confidence honest? Top-label calibration (Guo et al. 2017, "On Calibration of Modern
Neural Networks"): expected and maximum calibration error over equal-width confidence bins, the
multiclass Brier score and log loss, and temperature scaling, one number fitted on held-out data
that rescales every logit and never changes the predicted digit."""

from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar

# The models end in a softmax; its logits are the log-probabilities up to a constant per image,
# which temperature scaling does not see. Probabilities below this are taken as this, so that a
# float32 softmax that underflowed to 0 stays finite.
TINY = 1e-30
# Temperatures searched, on a log scale: from sharpening tenfold to flattening fiftyfold.
TEMPERATURE_RANGE = (0.1, 50.0)


class Reliability(NamedTuple):
    """Per confidence bin: its bounds, how many images fell in it, their mean top-label confidence
    and the share of them predicted right (NaN for an empty bin)."""

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def reliability(probabilities: np.ndarray, labels: np.ndarray, num_bins: int) -> Reliability:
    """The reliability diagram's bins: equal-width over (0, 1], each image in the bin of its top
    probability (a confidence of exactly 1 in the last bin)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    bins = np.clip(np.ceil(confidence * num_bins).astype(int) - 1, 0, num_bins - 1)
    count = np.bincount(bins, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, weights=confidence, minlength=num_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=num_bins) / count
    return Reliability(edges[:-1], edges[1:], count, mean_confidence, accuracy)


def calibration_errors(probabilities: np.ndarray, labels: np.ndarray, num_bins: int) -> tuple[float, float]:
    """Expected calibration error (the bins' |accuracy - confidence|, weighted by their share of the
    images) and maximum calibration error (the worst non-empty bin)."""
    bins = reliability(probabilities, labels, num_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(gaps * bins.count[filled]) / len(labels)), float(gaps.max(initial=0.0))


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Multiclass Brier score: the mean over images of the squared distance between the probability
    vector and the one-hot truth (0 is perfect, 2 the worst)."""
    truth = np.zeros_like(probabilities, dtype=np.float64)
    truth[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(np.sum((probabilities - truth) ** 2, axis=1)))


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true digit."""
    return float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(labels)), labels], TINY))))


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The softmax of the logits divided by `temperature` (the same ranking, so the same digit)."""
    logits = np.log(np.maximum(probabilities.astype(np.float64), TINY)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the log loss of `probabilities` (held-out data's, never the
    test set's), searched on a log scale within TEMPERATURE_RANGE."""
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: log_loss(with_temperature(probabilities, float(np.exp(log_t))), labels),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(found.x))


def calibration_report(
    test_probabilities: np.ndarray,
    test_labels: np.ndarray,
    validation_probabilities: np.ndarray,
    validation_labels: np.ndarray,
    num_bins: int,
) -> dict[str, Any]:
    """Every calibration figure of one model on the test set, before and after the temperature
    fitted on the validation split (its log loss before is the evaluation's `loss`)."""
    ece, mce = calibration_errors(test_probabilities, test_labels, num_bins)
    temperature = fit_temperature(validation_probabilities, validation_labels)
    scaled = with_temperature(test_probabilities, temperature)
    ece_scaled, mce_scaled = calibration_errors(scaled, test_labels, num_bins)
    return {
        "num_bins": num_bins,
        "ece": round(ece, 6),
        "mce": round(mce, 6),
        "brier": round(brier_score(test_probabilities, test_labels), 6),
        "temperature": round(temperature, 4),
        "ece_after_temperature": round(ece_scaled, 6),
        "mce_after_temperature": round(mce_scaled, 6),
        "log_loss_after_temperature": round(log_loss(scaled, test_labels), 6),
    }


def reliability_csv(bins: Reliability) -> bytes:
    """One row per non-empty bin, for DVC's plots and the report's overlay."""
    rows = [
        f"{low:.4f},{high:.4f},{count},{confidence:.6f},{accuracy:.6f}"
        for low, high, count, confidence, accuracy in zip(*bins, strict=True)
        if count
    ]
    return ("bin_lower,bin_upper,count,confidence,accuracy\n" + "\n".join(rows) + "\n").encode()
