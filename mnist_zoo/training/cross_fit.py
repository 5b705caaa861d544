"""Out-of-sample probabilities for the training split, by K-fold cross-fitting: the split cut into
K folds of whole writers (stratified by class: scikit-learn's StratifiedGroupKFold), one model of a
variant trained on each K-1 folds and asked only about the fold it never saw. Every training digit
then has probabilities from a model that was not fitted to its label, which is what cleanlab's
label quality score needs (an in-sample model has memorised the very labels under suspicion).

Grouping by writer keeps a writer's other digits out of the model that judges them, as the test
split does: otherwise a writer's odd style, learnt from their other digits, would hide a bad label.
"""

import logging
import time
from typing import Any, NamedTuple

import numpy as np

from mnist_zoo.config import NUM_CLASSES, PREDICT_BATCH_SIZE

log = logging.getLogger("cross_fit")


class CrossFit(NamedTuple):
    probabilities: np.ndarray  # (digits, classes), each row from the fold model that did not see it
    fold: np.ndarray  # (digits,) the fold each digit was held out in
    fold_accuracy: list[float]  # each fold model on its held-out digits, against the labels used
    seconds: float  # wall time of all K trainings and predictions


def writer_folds(labels: np.ndarray, writers: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each digit's fold (0..folds-1): whole writers, classes spread evenly; refused when there are
    fewer writers than folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    if len(np.unique(writers)) < folds:
        raise ValueError(
            f"labels.cross_fit_folds is {folds}, but the training split has only {len(np.unique(writers))} "
            "writers: each fold needs whole writers; ask for fewer folds."
        )
    fold = np.empty(len(labels), dtype=np.int32)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups=writers)):
        fold[held_out] = number
    return fold


def cross_fit(
    params: dict[str, Any],
    spec: dict[str, Any],
    images: np.ndarray,
    labels: np.ndarray,
    writers: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    folds: int,
) -> CrossFit:
    """Train `spec` once per fold on the other folds (early-stopping on `validation`, whose writers
    are in no fold), each seeded from the project's seed and its fold; predict the held-out fold."""
    from mnist_zoo.training.trainer import train_variant

    started = time.perf_counter()
    seed = int(params["seed"])
    fold = writer_folds(labels, writers, folds, seed)
    probabilities = np.zeros((len(labels), NUM_CLASSES), dtype=np.float32)
    accuracies = []
    for number in range(folds):
        held_out = fold == number
        model, summary = train_variant(
            params, spec, (images[~held_out], labels[~held_out]), validation, seed=seed + number
        )
        probabilities[held_out] = model.predict(images[held_out], batch_size=PREDICT_BATCH_SIZE, verbose=0)
        accuracies.append(round(float((probabilities[held_out].argmax(axis=1) == labels[held_out]).mean()), 6))
        log.info(
            "fold %d of %d: trained on %d digits (%d epochs), %.2f%% of its %d held-out digits read as labelled",
            number + 1,
            folds,
            int((~held_out).sum()),
            summary["epochs_run"],
            100 * accuracies[-1],
            int(held_out.sum()),
        )
    return CrossFit(probabilities, fold, accuracies, round(time.perf_counter() - started, 1))
