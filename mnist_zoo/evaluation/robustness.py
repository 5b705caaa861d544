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

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from mnist_zoo.config import IMAGE_SIZE
from mnist_zoo.data.dataset import load_split
from mnist_zoo.data.download import FASHION_MNIST
from mnist_zoo.data.prepare import decode_split
from mnist_zoo.data.typicality import digit_scores, is_digit


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


def robustness_record(
    probabilities: Callable[[np.ndarray], np.ndarray],
    basis: Any,
    settings: dict[str, Any],
    prepared_dir: Path,
    corrupted_dir: Path,
    fashion_dir: Path,
) -> dict[str, Any]:
    """How one model fails, returned rather than written (stages/robustness.py writes it):
    `probabilities` maps uint8 images (N, 28, 28, 1) to the model's (its ONNX export's, in the
    stage); `basis` is the typicality basis; `settings` params.yaml's `robustness`. Its accuracy on
    the clean and each corrupted test set and on other writers' digits, and its "not a digit" check
    against Fashion-MNIST and noise, each threshold chosen on the validation digits."""

    def accuracy(images: np.ndarray, labels: np.ndarray) -> float:
        return round(float(np.mean(probabilities(images).argmax(axis=1) == labels)), 6)

    def scores(images: np.ndarray, probabilities_of_images: np.ndarray | None = None) -> dict[str, np.ndarray]:
        found = probabilities(images) if probabilities_of_images is None else probabilities_of_images
        return digit_scores(found, images, basis)

    test_images, test_labels = load_split(prepared_dir / "test.npz")
    test_probabilities = probabilities(test_images)
    corrupted = {}
    for kind in settings["corruptions"]:
        images, labels = load_split(corrupted_dir / f"{kind}.npz")
        corrupted[kind] = accuracy(images, labels)
    writers_images, writers_labels = other_writers()
    fashion, _ = decode_split(*((fashion_dir / file).read_bytes() for file in FASHION_MNIST.files), "fashion")
    validation_images, _ = load_split(prepared_dir / "validation.npz")
    others = {"fashion_mnist": fashion, "noise": noise_images(settings["noise_images"], settings["seed"])}
    return {
        "clean_accuracy": round(float(np.mean(test_probabilities.argmax(axis=1) == test_labels)), 6),
        "corruption_accuracy": corrupted,
        "mean_corruption_accuracy": round(float(np.mean(list(corrupted.values()))), 6),
        "severity": settings["severity"],
        "other_writers": {
            "source": "sklearn.datasets.load_digits",
            "images": len(writers_labels),
            "accuracy": accuracy(writers_images, writers_labels),
        },
        "not_a_digit": not_a_digit(
            scores(validation_images),
            scores(test_images, test_probabilities),
            {set_name: scores(images) for set_name, images in others.items()},
            settings["true_positive_rate"],
        ),
    }
