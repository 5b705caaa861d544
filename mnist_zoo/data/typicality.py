"""Is it a digit at all? The models answer a digit for anything, and are as sure of noise as of a
seven; these scores (higher: more digit-like) say whether to believe them. The basis (what MNIST's
training digits look like) is fitted once by the `typicality` stage, written to
data/export/typicality.npz and read by the robustness stage, `mnist-predict` and the page.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnist_zoo.files import write_npz

NEIGHBOURS = 5  # training digits each image is compared with, nearest first
INK_LEVEL = 32  # a pixel brighter than this (of 255) holds ink


class Typicality(NamedTuple):
    """What MNIST's digits look like: the training digits' mean and top principal components (rows),
    in [0, 1] pixels, and the coordinates of a sample of them along those components."""

    mean: np.ndarray
    components: np.ndarray
    reference: np.ndarray


def typicalities(images: np.ndarray, basis: Typicality) -> dict[str, np.ndarray]:
    """Three scores per image: "reconstruction", minus how far the digits' principal components are
    from rebuilding it (clothes, scrawls); "neighbours", minus its mean distance along them to its
    nearest training digits; and "ink", minus the share of its pixels that hold ink (a digit
    covers a fifth of its 28x28, seldom over a third; noise, normalised like a digit, half)."""
    pixels = images.reshape(len(images), -1).astype(np.float32) / 255.0 - basis.mean
    coordinates = pixels @ basis.components.T
    residual = pixels - coordinates @ basis.components
    reference = basis.reference.astype(np.float32)
    reference_norms = np.sum(reference * reference, axis=1)
    neighbours = []
    for start in range(0, len(coordinates), 1000):  # a bounded distance matrix at a time
        batch = coordinates[start : start + 1000]
        squared = np.sum(batch * batch, axis=1)[:, None] + reference_norms[None] - 2 * batch @ reference.T
        nearest = np.partition(squared, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]
        neighbours.append(-np.sqrt(np.maximum(nearest.mean(axis=1), 0)))
    ink = np.mean(images.reshape(len(images), -1) > INK_LEVEL, axis=1)
    return {
        "reconstruction": -np.sqrt(np.sum(residual * residual, axis=1)),
        "neighbours": np.concatenate(neighbours) if neighbours else np.zeros(0, np.float32),
        "ink": -ink,
    }


def max_softmax(probabilities: np.ndarray) -> np.ndarray:
    """How sure the model is: its top probability."""
    return np.asarray(probabilities).max(axis=1)


def digit_scores(probabilities: np.ndarray, images: np.ndarray, basis: Typicality) -> dict[str, np.ndarray]:
    """Every "is it a digit" score of each image: the model's confidence and the three typicalities."""
    return {"confidence": max_softmax(probabilities), **typicalities(images, basis)}


def is_digit(scores: dict[str, np.ndarray], thresholds: dict[str, float]) -> np.ndarray:
    """An image is a digit when every score is at or above its threshold."""
    verdict = np.ones(len(next(iter(scores.values()))), dtype=bool)
    for name, threshold in thresholds.items():
        verdict &= scores[name] >= threshold
    return verdict


def fit(images: np.ndarray, num_components: int) -> Typicality:
    """The top principal components of `images` (uint8, 28x28 at the end), and these images'
    coordinates along them (float16: the served file stays small)."""
    pixels = images.reshape(len(images), -1).astype(np.float64) / 255.0
    mean = pixels.mean(axis=0)
    _, _, components = np.linalg.svd(pixels - mean, full_matrices=False)
    components = components[:num_components]
    return Typicality(
        mean.astype(np.float32), components.astype(np.float32), ((pixels - mean) @ components.T).astype(np.float16)
    )


def write(path: Path, basis: Typicality) -> None:
    """The basis as one .npz file, written atomically (the typicality stage's output)."""
    write_npz(path, mean=basis.mean, components=basis.components, reference=basis.reference)


def load(path: Path) -> Typicality:
    """The basis `write` wrote."""
    with np.load(path) as arrays:
        return Typicality(arrays["mean"], arrays["components"], arrays["reference"])
