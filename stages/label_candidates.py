"""Rank the validation and test digits by how much the zoo doubts their label (cleanlab's label
quality score over every default variant's out-of-sample probabilities): for each split, the first
labels.num_candidates as results/label_candidates/<split>.csv (id, label, published label, the
zoo's suggestion, score, how many models side with each, cleanlab's filter, writer) and the first
labels.sheet_candidates not yet reviewed drawn in results/label_candidates/<split>.png, in git, for a
person to review (docs/data.md; `mnist-labels review`). A candidate with a row in labels/corrections.csv
says who reviewed it (a confirmed label stays listed, marked). Nothing reads the lists back: the
decisions go in labels/corrections.csv.

Run alone: `python -m stages.label_candidates` (or `dvc repro label_candidates`).
"""

import logging

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params

log = logging.getLogger("label_candidates")
SPLITS = ("validation", "test")


def main() -> None:
    params = load_params()
    from mnist_zoo.data.corrections import read_corrections
    from mnist_zoo.data.dataset import load_metadata
    from mnist_zoo.evaluation.label_candidates import candidates_csv, plot_candidates, rank_candidates
    from mnist_zoo.figures import save_figure
    from mnist_zoo.files import atomic_write_bytes

    variants = list(params["train"]["variants"])
    settings = params["labels"]
    missing = [name for name in variants if not (config.PROBABILITIES_DIR / f"{name}.npz").is_file()]
    if missing:
        raise FileNotFoundError(
            f"No probabilities for {', '.join(missing)} in {config.PROBABILITIES_DIR}: run `dvc repro` "
            "(each evaluate@ stage writes its variant's)."
        )
    reviewed = {row.id: row.decided_by for row in read_corrections(config.CORRECTIONS_PATH)}
    for split in SPLITS:
        path = config.PREPARED_DIR / f"{split}.npz"
        images, labels, published, ids, writers, groups = load_metadata(
            path, "images", "labels", "published", "ids", "writers", "groups"
        )
        stacked = []
        for name in variants:
            with np.load(config.PROBABILITIES_DIR / f"{name}.npz") as arrays:
                stacked.append(arrays[split])
        probabilities = np.stack(stacked)
        if probabilities.shape[1] != len(labels):
            raise ValueError(
                f"{config.PROBABILITIES_DIR}: {probabilities.shape[1]} {split} digits against {len(labels)} in "
                f"{path}: the evaluations predate the split; run `dvc repro`."
            )
        candidates = rank_candidates(
            probabilities, labels.astype(int), published, ids, writers, groups, settings["num_candidates"], reviewed
        )
        atomic_write_bytes(config.LABEL_CANDIDATES_DIR / f"{split}.csv", candidates_csv(candidates))
        undecided = candidates[candidates["reviewed_by"] == ""]
        shown = undecided.head(settings["sheet_candidates"])
        by_id = {identifier: images[index] for index, identifier in enumerate(ids)}
        title = (
            f"{split}: the {len(shown)} unreviewed labels the zoo of {len(variants)} most doubts (of "
            f"{len(labels):,} digits; label = as used, zoo = its mean's digit, models agreeing)"
        )
        save_figure(plot_candidates(by_id, shown, len(variants), title), config.LABEL_CANDIDATES_DIR / f"{split}.png")
        against = candidates[candidates["models_with_label"] == 0]
        log.info(
            "%s: %d candidates listed, %d not yet reviewed; %d with no model reading their label, %d flagged by "
            "cleanlab's filter",
            split,
            len(candidates),
            len(undecided),
            len(against),
            int(candidates["flagged_by_filter"].sum()),
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
