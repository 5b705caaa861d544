"""The training split's label candidates: cross-fitting over folds of whole writers (no digit judged
by a model that saw its label), ranked by cleanlab; opt-in by params."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_zoo import config
from mnist_zoo.params import load_params
from mnist_zoo.training.cross_fit import writer_folds
from stages import train_candidates
from tests.conftest import update_params

FLIPPED = [5, 50, 77, 123, 188]  # training digits whose label (and published label) is wrong


def test_folds_hold_whole_writers_and_every_class():
    labels, writers = np.random.default_rng(0).permutation(np.arange(300) % 10), np.arange(300) % 30
    fold = writer_folds(labels, writers, 5, seed=1)
    assert sorted(np.unique(fold)) == [0, 1, 2, 3, 4]
    for writer in range(30):
        assert len(np.unique(fold[writers == writer])) == 1  # a writer is in one fold only
    assert all(len(np.unique(labels[fold == number])) == 10 for number in range(5))
    with pytest.raises(ValueError, match=r"labels.cross_fit_folds is 5, but the training split has only 3 writers"):
        writer_folds(labels, writers % 3, 5, seed=1)


def test_the_flipped_training_labels_rank_first_from_models_that_never_saw_them(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch
):
    from mnist_zoo.training import cross_fit, trainer

    trained_on, real_train_variant = [], trainer.train_variant

    def spy(params, spec, train_data, *args, **kwargs):
        trained_on.append(train_data[0])
        return real_train_variant(params, spec, train_data, *args, **kwargs)

    monkeypatch.setattr(trainer, "train_variant", spy)
    folds, real_cross_fit = [], cross_fit.cross_fit
    monkeypatch.setattr(cross_fit, "cross_fit", lambda *a, **k: folds.append(real_cross_fit(*a, **k)) or folds[-1])
    with np.load(config.PREPARED_DIR / "train.npz") as arrays:
        train = dict(arrays)
    for key in ("labels", "published"):  # MNIST published them wrong
        train[key] = train[key].copy()
        train[key][FLIPPED] = (train[key][FLIPPED] + 5) % 10
    np.savez(config.PREPARED_DIR / "train.npz", **train)
    update_params(
        Path("params.yaml"),
        {
            "labels.cross_fit": {"mlp_relu": "variants.mlp_relu"},
            "labels.cross_fit_folds": 4,
            "labels.num_candidates": 10,
            "variants.mlp_relu.epochs": 15,
        },
    )
    summary = train_candidates.main("mlp_relu")
    # Each fold's model trained on exactly the other folds: none saw a digit it was asked about.
    images = train["images"][..., np.newaxis]
    assert [np.array_equal(seen, images[folds[0].fold != k]) for k, seen in enumerate(trained_on)] == [True] * 4
    table = pd.read_csv(train_candidates.TRAIN_CANDIDATES_DIR / "mlp_relu.csv", keep_default_na=False)
    assert set(table["id"][: len(FLIPPED)]) == {f"train:{index}" for index in FLIPPED}, table.head(8)
    assert (table["suggested"][: len(FLIPPED)] != table["label"][: len(FLIPPED)]).all()
    assert len(summary["fold_accuracy"]) == 4 and summary["out_of_fold_accuracy"] > 0.9
    assert json.loads((train_candidates.TRAIN_CANDIDATES_DIR / "mlp_relu.json").read_text())["folds"] == 4
    assert (train_candidates.TRAIN_CANDIDATES_DIR / "mlp_relu.png").read_bytes().startswith(b"\x89PNG")


def test_a_variant_not_opted_in_or_a_missing_section_is_refused(in_tmp_project: Path):
    with pytest.raises(ValueError, match=r"'lenet5' is not in params.yaml's labels.cross_fit \(empty\); opt in"):
        train_candidates.main("lenet5")
    update_params(Path("params.yaml"), {"labels.cross_fit": {"lenet5": "variants.lenet_5"}})
    with pytest.raises(ValueError, match=r"labels.cross_fit.lenet5"):
        load_params()
