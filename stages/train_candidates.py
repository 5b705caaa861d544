"""Label candidates for the training split (opt-in: labels.cross_fit, empty by default): one
variant cross-fitted over labels.cross_fit_folds folds of whole training writers, so every training
digit is judged by a model that never saw its label (mnist_zoo/training/cross_fit.py), then ranked
by cleanlab's label quality score as label_candidates ranks the validation and test digits.

Writes results/train_candidates/<variant>.csv (the first labels.num_candidates, who reviewed each),
<variant>.png (the first labels.sheet_candidates not yet reviewed) and <variant>.json (the folds,
each fold model's accuracy on its held-out digits, the seconds it all took), in git. The decisions
go in labels/corrections.csv; a training-label fix then retrains the zoo.

Run alone: `python -m stages.train_candidates mlp_relu` (with labels.cross_fit naming it).
"""

import argparse
import json
import logging

from mnist_zoo import config, runtime
from mnist_zoo.evaluation.label_candidates import TRAIN_CANDIDATES_DIR
from mnist_zoo.params import load_params, variant_backend

log = logging.getLogger("train_candidates")


def cross_fit_spec(params: dict, name: str) -> dict:
    """The params section labels.cross_fit maps `name` to (the schema checked that it exists)."""
    sections = params["labels"].get("cross_fit") or {}
    if name not in sections:
        raise ValueError(
            f"{name!r} is not in params.yaml's labels.cross_fit ({sorted(sections) or 'empty'}); opt in with "
            f"labels.cross_fit: {{{name}: variants.{name}}}."
        )
    section = params
    for key in sections[name].split("."):
        section = section[key]
    return dict(section)


def main(name: str) -> dict:
    params = load_params()
    spec = cross_fit_spec(params, name)
    import numpy as np

    from mnist_zoo.data.corrections import read_corrections
    from mnist_zoo.data.dataset import load_metadata, load_split
    from mnist_zoo.evaluation.label_candidates import candidates_csv, plot_candidates, rank_candidates
    from mnist_zoo.figures import save_figure
    from mnist_zoo.files import atomic_write_bytes
    from mnist_zoo.models.families import validate_spec
    from mnist_zoo.training.cross_fit import cross_fit

    validate_spec(name, spec)
    settings = params["labels"]
    path = config.PREPARED_DIR / "train.npz"
    images, labels, published, ids, writers, groups = load_metadata(
        path, "images", "labels", "published", "ids", "writers", "groups"
    )
    labels = labels.astype(np.int32)
    folds = settings["cross_fit_folds"]
    log.info("%s: %d training digits by %d writers, %d folds", name, len(labels), len(np.unique(writers)), folds)
    fitted = cross_fit(
        params,
        spec,
        images[..., np.newaxis],
        labels,
        writers,
        load_split(config.PREPARED_DIR / "validation.npz"),
        folds,
    )
    reviewed = {row.id: row.decided_by for row in read_corrections(config.CORRECTIONS_PATH)}
    candidates = rank_candidates(
        fitted.probabilities[np.newaxis], labels, published, ids, writers, groups, settings["num_candidates"], reviewed
    )
    atomic_write_bytes(TRAIN_CANDIDATES_DIR / f"{name}.csv", candidates_csv(candidates))
    shown = candidates[candidates["reviewed_by"] == ""].head(settings["sheet_candidates"])
    title = (
        f"train: the {len(shown)} unreviewed labels {name} most doubts, cross-fitted over {folds} folds of whole "
        f"writers (of {len(labels):,} digits)"
    )
    by_id = {identifier: images[index] for index, identifier in enumerate(ids)}
    save_figure(plot_candidates(by_id, shown, 1, title), TRAIN_CANDIDATES_DIR / f"{name}.png")
    summary = {
        "variant": name,
        "folds": folds,
        "digits": len(labels),
        "fold_accuracy": fitted.fold_accuracy,
        "out_of_fold_accuracy": round(float((fitted.probabilities.argmax(axis=1) == labels).mean()), 6),
        "seconds": fitted.seconds,
    }
    atomic_write_bytes(TRAIN_CANDIDATES_DIR / f"{name}.json", (json.dumps(summary, indent=2) + "\n").encode())
    log.info(
        "%s: out-of-fold accuracy %.2f%%; %d candidates listed, %d read as another digit; %.0f s for %d folds",
        name,
        100 * summary["out_of_fold_accuracy"],
        len(candidates),
        int((candidates["suggested"] != candidates["label"]).sum()),
        fitted.seconds,
        folds,
    )
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml labels.cross_fit")
    arguments = parser.parse_args()
    runtime.start(variant_backend(cross_fit_spec(load_params(), arguments.variant)))
    main(arguments.variant)
