"""The digits whose label the zoo most doubts: every validation and test digit ranked by cleanlab's
label quality score (confident learning, Northcutt et al. 2021) over the zoo's probabilities for it.
Those are out of sample by construction: every model trained on the training split alone, and
neither split's labels reached a model's weights. The zoo's mean probability is the evidence;
a ranked list of a length set in params is the output (cleanlab's own filter, at 99% accuracy,
estimates so little noise that it flags one or two digits; its verdict is a column here).

Nothing downstream reads the list: a person reviews it and writes labels/corrections.csv.
"""

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_zoo.config import RESULTS_DIR

# The training split's lists, one per cross-fitted variant (stages/train_candidates.py), beside
# config.LABEL_CANDIDATES_DIR's validation and test lists.
TRAIN_CANDIDATES_DIR = RESULTS_DIR / "train_candidates"

COLUMNS = (
    "rank",
    "id",
    "label",
    "published",
    "suggested",
    "score",
    "models_suggesting",
    "models_with_label",
    "flagged_by_filter",
    "writer",
    "group",
    "reviewed_by",  # who decided it in labels/corrections.csv; empty: not reviewed yet
)


def rank_candidates(
    probabilities: np.ndarray,
    labels: np.ndarray,
    published: np.ndarray,
    ids: np.ndarray,
    writers: np.ndarray,
    groups: np.ndarray,
    limit: int,
    reviewed_by: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The `limit` digits of lowest label quality. `probabilities` is (models, digits, classes), each
    model's out-of-sample probabilities; the score is cleanlab's self-confidence on their mean, the
    suggestion the mean's most likely digit, and each model's own answer is counted for and against.
    `reviewed_by` (example id -> the decided_by of its corrections row) marks what a person already
    decided: a confirmed label stays a candidate, marked."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if probabilities.ndim != 3 or probabilities.shape[1] != len(labels):
        raise ValueError(f"probabilities of shape {probabilities.shape} do not match {len(labels)} labels")
    mean = probabilities.mean(axis=0)
    scores = get_label_quality_scores(labels, mean)
    flagged = find_label_issues(labels, mean, n_jobs=1)  # no fork: a caller may have JAX running
    answers = probabilities.argmax(axis=2)
    suggested = mean.argmax(axis=1)
    order = np.lexsort((np.arange(len(labels)), scores))[:limit]  # lowest score first, ties by position
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "id": ids[order],
            "label": labels[order],
            "published": published[order],
            "suggested": suggested[order],
            "score": np.round(scores[order], 6),
            "models_suggesting": (answers[:, order] == suggested[order]).sum(axis=0),
            "models_with_label": (answers[:, order] == labels[order]).sum(axis=0),
            "flagged_by_filter": flagged[order],
            "writer": writers[order],
            "group": groups[order],
            "reviewed_by": [(reviewed_by or {}).get(str(identifier), "") for identifier in ids[order]],
        },
        columns=list(COLUMNS),
    )


def candidates_csv(candidates: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    candidates.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def plot_candidates(images: dict[str, np.ndarray], candidates: pd.DataFrame, num_models: int, title: str) -> Figure:
    """The candidates in rank order, each captioned with its id, its label and the zoo's suggestion."""
    import matplotlib.pyplot as plt

    columns = 10
    rows = max(1, -(-len(candidates) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.6 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, row in zip(axes.flat, candidates.itertuples(index=False), strict=False):
        axis.imshow(images[row.id], cmap="gray_r", vmin=0, vmax=255)
        axis.set_title(
            f"#{row.rank} {row.id}\nlabel {row.label}, zoo {row.suggested} ({row.models_suggesting}/{num_models})",
            fontsize=6.5,
        )
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
