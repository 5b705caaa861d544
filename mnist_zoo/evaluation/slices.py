"""How one model does on slices of the test set: each writer group (Census Bureau employees, high
school students), each writer (the spread, the worst ones and their digits), and the labels MNIST
published beside the ones used (labels/corrections.csv), so that a correction hides nothing. And
your writers (digits/): how it reads the digits of the people who put theirs in the folder.
"""

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnist_zoo.data.writers import GROUPS

# Writers with fewer test digits than this are left out of the worst writers (one digit read wrong
# would make a writer of two digits "50%"), though they count in the spread.
MIN_WRITER_IMAGES = 10
DIGITS_SHOWN_PER_WRITER = 12


def accuracy(correct: np.ndarray) -> float:
    return round(float(correct.mean()), 6) if correct.size else 0.0


def exact_mcnemar(only_a: int, only_b: int) -> float:
    """The exact two-sided McNemar p-value of paired answers on the same images: right under A only
    `only_a` times, under B only `only_b` times (binomial, p = 1/2, over the discordant pairs).

    scipy.stats.binomtest's figure (a test holds them equal), summed in exact integers: at p = 1/2 the
    distribution is symmetric, so the two tails are twice the smaller one (importing scipy.stats
    would cost evaluate 0.5 s)."""
    discordant, fewer = only_a + only_b, min(only_a, only_b)
    if 2 * fewer == discordant:
        return 1.0
    tail = sum(math.comb(discordant, count) for count in range(fewer + 1))
    return min(1.0, 2 * tail / 2**discordant)


def slice_report(
    labels: np.ndarray,
    published: np.ndarray,
    predictions: np.ndarray,
    writers: np.ndarray,
    groups: np.ndarray,
    ids: np.ndarray,
    num_worst: int,
) -> dict[str, Any]:
    """The slices' figures for evaluation's JSON: per group, per writer, against the published labels."""
    correct = predictions == labels
    relabelled = labels != published
    only_published, only_reviewed = int((predictions == published)[relabelled].sum()), int(correct[relabelled].sum())
    per_writer = {}
    for writer in np.unique(writers):
        mine = writers == writer
        per_writer[int(writer)] = (int(mine.sum()), int(correct[mine].sum()), str(groups[mine][0]))
    rates = np.array([right / count for count, right, _ in per_writer.values()])
    eligible = [writer for writer, (count, _, _) in per_writer.items() if count >= MIN_WRITER_IMAGES]
    worst = sorted(eligible, key=lambda writer: (per_writer[writer][1] / per_writer[writer][0], writer))[:num_worst]
    return {
        "groups": {
            group: {"images": int((groups == group).sum()), "accuracy": accuracy(correct[groups == group])}
            for group in GROUPS
        },
        "published_labels": {
            "accuracy": accuracy(predictions == published),
            "relabelled": int(relabelled.sum()),
            "errors_on_relabelled": int((~correct & relabelled).sum()),
            # The same answers against both label sets differ only on the relabelled digits: paired there.
            "right_only_against_published": only_published,
            "right_only_against_reviewed": only_reviewed,
            "paired_p_value": round(exact_mcnemar(only_published, only_reviewed), 6),
        },
        "writers": {
            "count": len(per_writer),
            "min_accuracy": round(float(rates.min()), 6),
            "p05_accuracy": round(float(np.percentile(rates, 5)), 6),
            "median_accuracy": round(float(np.median(rates)), 6),
            # writer ID -> [test digits, read right, group]: the report's spread across writers.
            "per_writer": {str(writer): list(entry) for writer, entry in per_writer.items()},
            "worst": [
                {
                    "writer": writer,
                    "group": per_writer[writer][2],
                    "images": per_writer[writer][0],
                    "accuracy": round(per_writer[writer][1] / per_writer[writer][0], 6),
                    "mistakes": ids[(writers == writer) & ~correct].tolist(),
                }
                for writer in worst
            ],
        },
    }


def own_report(labels: np.ndarray, predictions: np.ndarray, ids: np.ndarray, writers: np.ndarray) -> dict[str, Any]:
    """Your writers' slice (data/prepared/own.npz: the digits of digits/ that it did not train on):
    the share read right, per writer, and its answer on each digit, by id (the data diff's and the
    report's). An empty folder gives images 0 and no accuracy."""
    correct = predictions == labels
    return {
        "images": len(labels),
        "accuracy": accuracy(correct) if len(labels) else None,
        "per_writer": {
            str(writer): [int((writers == writer).sum()), int(correct[writers == writer].sum())]
            for writer in np.unique(writers)
        },
        "answers": {str(identifier): int(answer) for identifier, answer in zip(ids, predictions, strict=True)},
    }


def plot_worst_writers(
    images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, writers: np.ndarray, report: dict, title: str
) -> plt.Figure:
    """A row per worst writer: their first test digits, each titled with its label, a mistake in red
    with the model's answer."""
    worst = report["writers"]["worst"]
    rows, columns = max(len(worst), 1), DIGITS_SHOWN_PER_WRITER
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.15 + 0.6), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for row, entry in enumerate(worst):
        mine = np.flatnonzero(writers == entry["writer"])
        # Its mistakes first, then its other digits, up to a row's width.
        wrong = mine[predictions[mine] != labels[mine]]
        shown = np.concatenate([wrong, mine[predictions[mine] == labels[mine]]])[:columns]
        for column, index in enumerate(shown):
            axis = axes[row, column]
            axis.imshow(images[index].squeeze(), cmap="gray_r")
            mistake = predictions[index] != labels[index]
            text = f"{labels[index]}→{predictions[index]}" if mistake else str(labels[index])
            axis.set_title(text, fontsize=8, color="#c0392b" if mistake else "black")
        axes[row, 0].text(
            -0.15,
            0.5,
            f"writer {entry['writer']}\n{entry['group']}\n{entry['accuracy']:.0%} of {entry['images']}",
            transform=axes[row, 0].transAxes,
            ha="right",
            va="center",
            fontsize=8,
        )
    figure.suptitle(title, fontsize=10)
    figure.subplots_adjust(left=0.14, right=0.99, top=1 - 0.45 / (rows * 1.15 + 0.6), bottom=0.02, hspace=0.5)
    return figure
