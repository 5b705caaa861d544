"""The label candidates: the digits whose label the zoo doubts, ranked by cleanlab over the zoo's
out-of-sample probabilities."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_zoo import config
from mnist_zoo.data.corrections import Decision, pixel_sha256, record_decisions
from mnist_zoo.evaluation.label_candidates import rank_candidates
from mnist_zoo.files import write_npz
from stages import label_candidates
from tests.conftest import update_params, write_prepared

FLIPPED = [3, 17, 40, 41, 55]  # within the smallest split (validation: 60)


def zoo_probabilities(truth: np.ndarray, num_models: int, seed: int) -> np.ndarray:
    """Each model fairly sure of the true digit (a noisy softmax), one in ten of its answers unsure."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (num_models, len(truth), 10))
    logits[:, np.arange(len(truth)), truth] += rng.uniform(2, 6, (num_models, len(truth)))
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=2, keepdims=True)


def flipped_labels(truth: np.ndarray) -> np.ndarray:
    labels = truth.copy()
    labels[FLIPPED] = (labels[FLIPPED] + 3) % 10
    return labels


def test_the_flipped_labels_rank_first_and_each_model_is_counted():
    truth = np.arange(100) % 10
    labels = flipped_labels(truth)
    probabilities = zoo_probabilities(truth, 4, seed=0)
    ids = np.array([f"test:{index}" for index in range(100)])
    candidates = rank_candidates(
        probabilities, labels, labels, ids, np.zeros(100), np.full(100, "employees"), limit=len(FLIPPED)
    )
    assert sorted(candidates["id"]) == sorted(ids[FLIPPED])
    assert candidates["rank"].tolist() == [1, 2, 3, 4, 5] and candidates["score"].is_monotonic_increasing
    assert (candidates["suggested"] == truth[[int(i.split(":")[1]) for i in candidates["id"]]]).all()
    assert (candidates["models_with_label"] == 0).all() and (candidates["models_suggesting"] >= 2).all()
    # The labels as evidence instead of the models' probabilities (every score 1): the flips go unseen.
    as_given = np.eye(10)[labels][np.newaxis]
    wrong = rank_candidates(as_given, labels, labels, ids, np.zeros(100), np.full(100, "x"), limit=5)
    assert set(wrong["id"]) != set(ids[FLIPPED]) and (wrong["score"] == 1).all()


def test_a_probability_table_of_another_split_is_refused():
    with pytest.raises(ValueError, match=r"do not match 100 labels"):
        rank_candidates(np.ones((2, 90, 10)) / 10, np.zeros(100, int), np.zeros(100), np.arange(100), [], [], 5)


def test_the_stage_ranks_each_split_from_the_evaluations_probabilities_and_draws_the_top(in_tmp_project: Path):
    write_prepared(Path("data/prepared"))
    update_params(Path("params.yaml"), {"labels.num_candidates": 8, "labels.sheet_candidates": 6})
    variants = list(label_candidates.load_params()["train"]["variants"])
    arrays = {}
    for split in ("validation", "test"):
        with np.load(config.PREPARED_DIR / f"{split}.npz") as prepared:
            truth = prepared["labels"].astype(int)
        arrays[split] = zoo_probabilities(
            np.where(np.isin(np.arange(len(truth)), FLIPPED), (truth + 3) % 10, truth), len(variants), 1
        )
    for index, name in enumerate(variants):
        write_npz(config.PROBABILITIES_DIR / f"{name}.npz", **{split: table[index] for split, table in arrays.items()})
    label_candidates.main()
    for split, first in (("validation", 200), ("test", 0)):  # validation's ids follow train's
        table = pd.read_csv(config.LABEL_CANDIDATES_DIR / f"{split}.csv", keep_default_na=False)
        assert len(table) == 8
        assert set(table["id"][:5]) == {f"{'test' if split == 'test' else 'train'}:{first + i}" for i in FLIPPED}
        assert (config.LABEL_CANDIDATES_DIR / f"{split}.png").read_bytes().startswith(b"\x89PNG")
        assert (table["reviewed_by"] == "").all()

    # A reviewer confirms the first test candidate: still listed, marked, and left off the sheet.
    first = pd.read_csv(config.LABEL_CANDIDATES_DIR / "test.csv").iloc[0]
    with np.load(config.PREPARED_DIR / "test.npz") as prepared:
        index = list(prepared["ids"]).index(first["id"])
        image, published = prepared["images"][index], int(prepared["published"][index])
    decision = Decision(first["id"], pixel_sha256(image), published, published, "looked at it", "ana")
    record_decisions(config.CORRECTIONS_PATH, [decision])
    sheet = (config.LABEL_CANDIDATES_DIR / "test.png").read_bytes()
    label_candidates.main()
    table = pd.read_csv(config.LABEL_CANDIDATES_DIR / "test.csv", keep_default_na=False)
    assert table["id"].tolist()[0] == first["id"] and table["reviewed_by"].tolist()[:2] == ["ana", ""]
    assert (config.LABEL_CANDIDATES_DIR / "test.png").read_bytes() != sheet
    (config.PROBABILITIES_DIR / f"{variants[-1]}.npz").unlink()
    with pytest.raises(FileNotFoundError, match=f"No probabilities for {variants[-1]}"):
        label_candidates.main()
