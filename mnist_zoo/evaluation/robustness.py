"""How a model fails away from MNIST's clean test set: under corrupted scans, on digits written by
other people, and on images that are not digits at all.

"Not a digit" uses four scores per image, higher meaning more digit-like (mnist_zoo/data/typicality.py):
the model's confidence (its top probability), and three typicalities of the image itself, which no
model's confidence can fake (the models are as sure of uniform noise as of a digit). An image is a
digit when all four pass their thresholds; each threshold keeps all but a quarter of the allowed
misses of the validation digits, so together they keep at least the stated share. Reported per
set of other images: each score's AUROC, and for the four together (the lowest of their ranks
among the validation digits) the AUROC and the false-positive rate at that share of test digits kept.
"""

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from mnist_zoo.config import IMAGE_SIZE
from mnist_zoo.data.typicality import is_digit


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """How well a score tells digits (positives) from other images: the chance that a random
    digit scores above a random other image (ties count half); 1 separates them perfectly."""
    truth = np.concatenate([np.ones(len(digit_scores)), np.zeros(len(other_scores))])
    return float(roc_auc_score(truth, np.concatenate([digit_scores, other_scores])))


def threshold_at(digit_scores: np.ndarray, true_positive_rate: float) -> float:
    """The score at or above which at least `true_positive_rate` of these digits lie."""
    return float(np.quantile(digit_scores, 1 - true_positive_rate, method="lower"))


def false_positive_rate(digit_scores: np.ndarray, other_scores: np.ndarray, true_positive_rate: float) -> float:
    """The share of other images still taken for digits at the threshold that keeps
    `true_positive_rate` of these digits (e.g. FPR at 95% TPR)."""
    return float(np.mean(other_scores >= threshold_at(digit_scores, true_positive_rate)))


def rank(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The share of `reference` at or below each value: a score on the digits' own scale."""
    return np.searchsorted(np.sort(reference), values, side="right") / len(reference)


def noise_images(count: int, seed: int) -> np.ndarray:
    """Uniform noise in MNIST's format (uint8, 28x28): a "not a digit" set that needs no download."""
    return np.random.default_rng([seed, count]).integers(0, 256, (count, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)


def other_writers() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits (UCI: 1,797 8x8 images, 0-16, by writers outside
    MNIST), brought to MNIST's format by predict's own normalisation: (N, 28, 28) float32 0-255."""
    from sklearn.datasets import load_digits

    from mnist_zoo.data.digits import normalise

    digits = load_digits()
    images = np.stack(
        [normalise(image * (255.0 / 16.0), f"load_digits[{index}]") for index, image in enumerate(digits.images)]
    )
    return images, digits.target.astype(np.int64)


def not_a_digit(
    validation: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    others: dict[str, dict[str, np.ndarray]],
    true_positive_rate: float,
) -> dict[str, Any]:
    """The thresholds (each keeping all but its share of the allowed misses of the validation
    digits), the share of test digits they turn away, and against each set of other images: each
    score's AUROC, the scores together's AUROC and FPR at `true_positive_rate` of test digits, and
    the share the thresholds flag. Scores as mnist_zoo.data.typicality.digit_scores gives them."""
    each = 1 - (1 - true_positive_rate) / len(validation)
    thresholds = {name: threshold_at(scores, each) for name, scores in validation.items()}

    def together(scores: dict[str, np.ndarray]) -> np.ndarray:
        return np.min([rank(validation[name], scores[name]) for name in validation], axis=0)

    figures: dict[str, Any] = {
        "true_positive_rate": true_positive_rate,
        "threshold": {name: round(value, 8) for name, value in thresholds.items()},
        "test_digits_rejected": round(float(1 - np.mean(is_digit(test, thresholds))), 6),
    }
    for set_name, scores in others.items():
        figures[set_name] = {
            "images": len(scores["confidence"]),
            "auroc": round(auroc(together(test), together(scores)), 6),
            **{f"auroc_{name}": round(auroc(test[name], scores[name]), 6) for name in validation},
            "fpr_at_tpr": round(false_positive_rate(together(test), together(scores), true_positive_rate), 6),
            "flagged": round(float(1 - np.mean(is_digit(scores, thresholds))), 6),
        }
    return figures
