"""bench.seed_spread: its arithmetic, that a seed's row is what the pipeline itself produces for
that seed, and that the posts' protocol trains on every image for the whole budget."""

import json
from pathlib import Path

import pytest

from bench import seed_spread
from mnist_zoo.training import trainer
from tests.conftest import spy_on_fit, trained_and_exported, update_params, write_mnist_gz


def test_summary_counts_the_seeds_reaching_the_bar():
    summary = seed_spread.spread_summary([0.9910, 0.9930, 0.9890, 0.9920], bar=0.992)
    assert summary["seeds"] == 4 and summary["reaching_bar"] == 2
    assert summary["mean"] == pytest.approx(0.99125)
    assert summary["sd"] == pytest.approx(0.0017078, abs=1e-6)  # sample sd, n - 1
    assert (summary["min"], summary["max"]) == (0.9890, 0.9930)
    assert "reaching_bar" not in seed_spread.spread_summary([0.99], bar=None)
    with pytest.raises(ValueError, match="No seeds"):
        seed_spread.spread_summary([], bar=None)


def test_table_marks_the_params_seed_and_states_the_spread():
    rows = [
        {"seed": 42, "epochs_run": 5, "best_epoch": 3, "test_accuracy": 0.9913, "test_loss": 0.0281},
        {"seed": 43, "epochs_run": 5, "best_epoch": 4, "test_accuracy": 0.9927, "test_loss": 0.0254},
    ]
    text = seed_spread.format_spread("chollet", "ours", rows, params_seed=42, bar=0.992)
    assert "| 42 (params.yaml) | 5 | 3 | 99.13% | 0.0281 |" in text
    assert "| 43 | 5 | 4 | 99.27% | 0.0254 |" in text
    assert "mean 99.20%, sd 0.10 points, range 99.13-99.27%; 1 of 2 reach 99.20%." in text


@pytest.mark.slow
def test_the_params_seed_row_is_the_pipelines_own_run(tiny_project: Path):
    """Another seed first, so state it leaves behind would show; then the pipeline's own stages."""
    from stages import evaluate

    update_params(tiny_project / "params.yaml", {"variants.chollet.epochs": 3})
    text = seed_spread.main("chollet", [7, 42], posts_protocol=False, bar=None)
    rows = {int(line.split()[1]): line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()}
    trained_and_exported("chollet")
    metrics = evaluate.main("chollet")
    assert f"{100 * metrics['accuracy']:.2f}% | {metrics['loss']:.4f} |" in rows[42]
    assert f"| {metrics['loss']:.4f} |" not in rows[7]  # the seed does change the run
    summary = json.loads((tiny_project / "metrics/training/chollet/metrics.json").read_text())
    assert f"| {summary['epochs_run']} | {summary['best_epoch']} |" in rows[42]


def test_posts_protocol_trains_on_train_plus_validation_for_every_epoch(tiny_project: Path, monkeypatch):
    # It trains through mnist_zoo.training.trainer's own loop: patience None, no validation data.
    compiled = []
    original = trainer.compile_for_training
    monkeypatch.setattr(
        trainer,
        "compile_for_training",
        lambda model, spec, num_images, *rest: (
            compiled.append((model, num_images)),
            original(model, spec, num_images, *rest),
        ),
    )
    calls = spy_on_fit(monkeypatch, trainer)
    # Patience 1 would stop our protocol early at the first worse epoch; the posts' never stops.
    update_params(tiny_project / "params.yaml", {"train.early_stopping_patience": 1, "variants.lenet5.epochs": 4})
    text = seed_spread.main("lenet5", [42], posts_protocol=True, bar=0.5)
    [(trainee, num_images)] = compiled
    assert num_images == 200 + 60  # tiny_project's train and validation splits
    # Every epoch ran: 4 epochs of ceil(260 / 128) = 3 steps each.
    assert int(trainee.optimizer.iterations) == 4 * 3
    assert "| 42 (params.yaml) | 4 | 4 |" in text and "posts' protocol" in text
    assert [(call["patience"], call["validation_data"]) for call in calls] == [(None, None)]


def test_missing_data_says_which_stage_to_run(in_tmp_project: Path):
    with pytest.raises(SystemExit, match="run `dvc repro preprocess` first"):
        seed_spread.main("chollet", [42], posts_protocol=False, bar=None)


@pytest.mark.slow
def test_a_profiles_band_is_recorded_with_its_recipes_fingerprint(tiny_project: Path):
    """--profile sets params first, as the workflow's `dvc exp run -S` does; --write-band records the
    spread where the gate reads it, with the fingerprint of the recipe it was measured for."""
    from mnist_zoo.experiments.comparison import recipe_fingerprint
    from mnist_zoo.experiments.profiles import apply_profile
    from mnist_zoo.params import load_params, variant_spec

    write_mnist_gz(tiny_project / "data/raw", num_train=300, num_test=100)  # the profile's data are made from these
    profile = tiny_project / "quick.yaml"
    profile.write_text("variants.mlp_relu.epochs: 1\ndata.validation_size: 50\ndata.subset: 150\n")
    seed_spread.main("mlp_relu", [1, 2], posts_protocol=False, bar=None, profile=profile, write_band=True)
    bands = json.loads((tiny_project / "results/seed_bands.json").read_text())
    band = bands["quick"]["mlp_relu"]
    assert band["seeds"] == [1, 2] and len(band["accuracies"]) == 2
    assert band["mean"] == pytest.approx(sum(band["accuracies"]) / 2, abs=1e-6)
    params = apply_profile(
        load_params(), {"variants.mlp_relu.epochs": 1, "data.validation_size": 50, "data.subset": 150}
    )
    assert band["recipe"] == recipe_fingerprint(params, variant_spec(params, "mlp_relu"))
    assert band["recipe"] != recipe_fingerprint(load_params(), variant_spec(load_params(), "mlp_relu"))


def test_a_profile_key_params_does_not_have_is_refused(tiny_project: Path):
    profile = tiny_project / "typo.yaml"
    profile.write_text("model.epoks: 2\n")
    with pytest.raises(ValueError, match="params.yaml: model.epoks is 2; allowed: no such key here"):
        seed_spread.main("flagship", [1], posts_protocol=False, bar=None, profile=profile)
