"""Telling a real change from noise: the paired McNemar test, the seed bands, and the verdict that
the gate and the pull-request comment give."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo.experiments import comparison
from mnist_zoo.params import load_params, variant_spec
from tests.conftest import PROJECT_ROOT

LABELS = np.arange(10_000) % 10


def answers(wrong: np.ndarray) -> np.ndarray:
    """Digits right everywhere except at `wrong` (indices)."""
    digits = LABELS.copy()
    digits[wrong] = (digits[wrong] + 1) % 10
    return digits


def test_identical_predictions_give_p_one_and_flag_nothing():
    base = answers(np.arange(0, 10_000, 100))
    test = comparison.mcnemar(LABELS, base, base.copy())
    assert test == comparison.McNemar(0, 0, 1.0)
    band = comparison.Band(mean=0.99, sd=0.0005, seeds=5, stale=False)
    verdict = comparison.judge("lenet5", 0.99, 0.99, test, band, significance=0.05, band_sds=2)
    assert not verdict.significant and not verdict.regression


def test_a_one_point_drop_on_ten_thousand_images_is_flagged():
    base = answers(np.arange(0, 10_000, 100))  # 100 wrong: 99.00%
    head = answers(np.arange(0, 10_000, 50))  # the same 100 and 100 more: 98.00%
    test = comparison.mcnemar(LABELS, base, head)
    assert (test.base_only, test.head_only) == (100, 0) and test.p_value < 1e-20
    band = comparison.Band(mean=0.99, sd=0.001, seeds=5, stale=False)
    verdict = comparison.judge("lenet5", 0.99, 0.98, test, band, significance=0.05, band_sds=2)
    assert verdict.significant and verdict.outside_band and verdict.regression
    cells = comparison.describe(verdict, band_sds=2)
    assert cells["paired"] == "100 / 0, p = 1.58e-30" and cells["verdict"] == "REGRESSION"
    assert cells["band"] == "outside ±2 sd (0.10 pp over 5 seeds)"


def test_a_drop_inside_the_seed_band_or_not_significant_is_not_a_regression():
    base = answers(np.arange(0, 10_000, 100))
    swapped = answers(np.arange(1, 10_000, 100))  # as many wrong, other images: a reshuffle
    test = comparison.mcnemar(LABELS, base, swapped)
    assert test.base_only == test.head_only == 100 and test.p_value == 1.0
    wide = comparison.Band(mean=0.99, sd=0.01, seeds=5, stale=False)
    head = answers(np.arange(0, 10_000, 50))
    significant = comparison.mcnemar(LABELS, base, head)
    assert not comparison.judge("chollet", 0.99, 0.98, significant, wide, 0.05, 2).regression  # inside 2 sd = 2 pp
    assert not comparison.judge("chollet", 0.99, 0.98, test, None, 0.05, 2).regression  # p = 1
    # No band, or a stale one: any significant drop counts.
    assert comparison.judge("chollet", 0.99, 0.98, significant, None, 0.05, 2).regression
    stale = wide._replace(stale=True)
    assert comparison.judge("chollet", 0.99, 0.98, significant, stale, 0.05, 2).regression
    assert (
        "stale: the recipe changed"
        in comparison.describe(comparison.judge("chollet", 0.99, 0.98, significant, stale, 0.05, 2), 2)["band"]
    )


def test_paired_predictions_must_be_of_the_same_images():
    with pytest.raises(ValueError, match="Paired predictions must be of the same images: 10000 labels, 10 and 10"):
        comparison.mcnemar(LABELS, LABELS[:10], LABELS[:10])


def test_a_band_goes_stale_when_its_recipe_or_the_data_change():
    params = load_params(PROJECT_ROOT / "params.yaml")
    spec = variant_spec(params, "lenet5")
    fingerprint = comparison.recipe_fingerprint(params, spec)
    bands = {"full": {"lenet5": comparison.seed_band([0.982, 0.983, 0.981], fingerprint, [42, 43, 44])}}
    assert comparison.band_for(bands, "full", "lenet5", fingerprint) == comparison.Band(0.982, 0.001, 3, False)
    assert comparison.band_for(bands, "pull_request", "lenet5", fingerprint) is None
    changed = comparison.recipe_fingerprint(params, {**spec, "epochs": 31})
    assert comparison.band_for(bands, "full", "lenet5", changed).stale
    other_data = {**params, "data": {**params["data"], "subset": 10_000}}
    assert comparison.recipe_fingerprint(other_data, spec) != fingerprint
    # The seed itself is what a band spreads over: not part of the fingerprint.
    assert comparison.recipe_fingerprint({**params, "seed": 7}, spec) == fingerprint


MNIST_MIRROR = os.environ.get("MNIST_MIRROR")


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_MIRROR, reason="set MNIST_MIRROR to a directory with the four MNIST *-ubyte.gz files")
def test_on_the_pull_request_profile_another_seed_passes_and_a_tenth_of_the_learning_rate_fails():
    """Real training on the committed pull-request profile, judged against the committed seed band:
    the same recipe under another seed is not a regression; its learning rate cut tenfold is."""
    from mnist_zoo.experiments.profiles import apply_profile, load_profile, splits_for
    from mnist_zoo.training.devices import plan_for
    from mnist_zoo.training.trainer import early_stopping_patience, seed_everything, train

    params = apply_profile(
        load_params(PROJECT_ROOT / "params.yaml"), load_profile(PROJECT_ROOT / "bench/pull_request_profile.yaml")
    )
    splits = splits_for(params, prepared_dir=Path("nowhere"), raw_dir=Path(MNIST_MIRROR))
    name = "mlp_relu"
    spec = variant_spec(params, name)

    def digits(seed: int, recipe: dict) -> np.ndarray:
        seed_everything(seed)
        model, _ = train(
            recipe, splits["train"], splits["validation"], early_stopping_patience(params, recipe), [], plan_for(recipe)
        )
        return model.predict(splits["test"][0], batch_size=1000, verbose=0).argmax(axis=1)

    labels = splits["test"][1]
    bands = json.loads((PROJECT_ROOT / "results/seed_bands.json").read_text())
    band = comparison.band_for(bands, "pull_request", name, comparison.recipe_fingerprint(params, spec))
    assert band is not None and not band.stale, "measure it: bench.seed_spread --profile ... --write-band"
    base = digits(42, spec)
    slow = {**spec, "optimizer": {**spec["optimizer"], "learning_rate": 0.0001}}  # Adam's 0.001, a tenth
    for other, regression in ((digits(43, spec), False), (digits(42, slow), True)):
        verdict = comparison.judge(
            name,
            float(np.mean(base == labels)),
            float(np.mean(other == labels)),
            comparison.mcnemar(labels, base, other),
            band,
            0.05,
            2,
        )
        assert verdict.regression is regression, (verdict, band)
