"""train: reproducible to the last digit, keeps the best validation weights, and refuses bad
params before touching any data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo.data.dataset import load_split
from mnist_zoo.models.families import build_model
from mnist_zoo.params import load_params, variant_spec
from mnist_zoo.training import trainer
from stages import train
from tests.conftest import PROJECT_ROOT, library_noise, plan_here, spy_on_fit, update_params

# trains models through the stage, several seconds each
pytestmark = pytest.mark.slow


def test_same_seed_gives_identical_metrics_and_weights(tiny_project: Path):
    first = train.main("chollet", metrics_dir=Path("run1"), models_dir=Path("models1"))
    second = train.main("chollet", metrics_dir=Path("run2"), models_dir=Path("models2"))
    curves = [json.loads(Path(run, "chollet", "metrics.json").read_text()) for run in ("run1", "run2")]
    for curve in curves:
        del curve["training_seconds"]  # wall time is the one thing allowed to differ
    assert curves[0] == curves[1]
    assert first["epochs_run"] == second["epochs_run"] == 2
    weights = [keras.saving.load_model(f"models{run}/chollet.keras").get_weights() for run in (1, 2)]
    for one, two in zip(*weights, strict=True):
        np.testing.assert_array_equal(one, two)


def test_another_seed_gives_other_weights(tiny_project: Path):
    train.main("lenet5", models_dir=Path("a"))
    update_params(tiny_project / "params.yaml", {"seed": 7})
    train.main("lenet5", models_dir=Path("b"))
    first, second = (keras.saving.load_model(f"{d}/lenet5.keras").get_weights()[0] for d in "ab")
    assert not np.array_equal(first, second)


def test_writes_model_curves_and_summary_and_keeps_the_best_weights(tiny_project: Path):
    update_params(tiny_project / "params.yaml", {"variants.mlp_relu.epochs": 6})
    summary = train.main("mlp_relu")
    model = keras.saving.load_model("data/models/mlp_relu.keras")
    validation_losses = [
        float(line.split("\t")[-1])
        for line in Path("metrics/training/mlp_relu/plots/metrics/eval/loss.tsv").read_text().splitlines()[1:]
    ]
    assert len(validation_losses) == summary["epochs_run"] <= 6
    assert summary["best_epoch"] == int(np.argmin(validation_losses)) + 1
    images, labels = load_split(Path("data/prepared/validation.npz"))
    loss = model.evaluate(images, labels, verbose=0)[0]
    assert loss == pytest.approx(min(validation_losses), rel=1e-4)  # best epoch restored, not the last
    logged = json.loads(Path("metrics/training/mlp_relu/metrics.json").read_text())
    assert logged["parameters"] == 898_510 and logged["training_seconds"] > 0
    assert set(logged["eval"]) == {"loss", "accuracy"} and set(logged["train"]) == {"loss", "accuracy"}


def test_weight_averaging_validates_selects_and_saves_the_averaged_weights(tiny_project: Path):
    """`use_ema`: the saved model is the weights' moving average, and validation scored that."""
    adam = {"name": "adam", "use_ema": True, "ema_momentum": 0.9999}
    update_params(tiny_project / "params.yaml", {"variants.mlp_relu.epochs": 3, "variants.mlp_relu.optimizer": adam})
    trainer.seed_everything(42)  # train.main seeds with params' seed before building the same model
    initial = build_model(variant_spec(load_params(), "mlp_relu")).get_weights()
    train.main("mlp_relu", models_dir=Path("averaged"), metrics_dir=Path("averaged"))
    update_params(tiny_project / "params.yaml", {"variants.mlp_relu.optimizer": adam | {"use_ema": False}})
    train.main("mlp_relu", models_dir=Path("last"), metrics_dir=Path("last"))
    averaged, last = (keras.saving.load_model(f"{run}/mlp_relu.keras") for run in ("averaged", "last"))

    def distance_travelled(model: keras.Model) -> float:
        return sum(float(np.abs(now - then).sum()) for now, then in zip(model.get_weights(), initial, strict=True))

    # Both runs take the same steps. At momentum 0.9999 the average barely leaves the first step's
    # weights while the weights travel on; saving the last weights would make the two equal.
    assert distance_travelled(averaged) < 0.5 * distance_travelled(last)
    validation_losses = [
        float(line.split("\t")[-1])
        for line in Path("averaged/mlp_relu/plots/metrics/eval/loss.tsv").read_text().splitlines()[1:]
    ]
    images, labels = load_split(Path("data/prepared/validation.npz"))
    assert averaged.evaluate(images, labels, verbose=0)[0] == pytest.approx(min(validation_losses), rel=1e-4)


def test_a_recipe_may_set_its_own_early_stopping_patience(tiny_project: Path, monkeypatch):
    calls = spy_on_fit(monkeypatch, trainer)
    update_params(
        tiny_project / "params.yaml",
        {
            "train.early_stopping_patience": 2,
            "variants.mlp_relu.epochs": 1,
            "variants.mlp_tanh.epochs": 3,
            "variants.mlp_tanh.early_stopping_patience": 7,
        },
    )
    train.main("mlp_relu")
    train.main("mlp_tanh")
    assert {call["spec"]["epochs"]: call["patience"] for call in calls} == {1: 2, 3: 7}


def test_flagship_learns_the_synthetic_digits(tiny_project: Path):
    update_params(tiny_project / "params.yaml", {"model.epochs": 8})
    train.main("flagship")
    model = keras.saving.load_model("data/models/flagship.keras")
    images, labels = load_split(Path("data/prepared/validation.npz"))
    assert model.evaluate(images, labels, verbose=0)[1] > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"variants.lenet5.epochs": -3}, "variants.lenet5.epochs is -3; allowed: a whole number >= 1"),
        ({"variants.lenet5.family": "transformer"}, "lenet5.family is 'transformer'"),
        ({"variants.lenet5.units": 5}, r"variants.lenet5.units is 5; allowed: no such key here"),
        ({"train.early_stopping_patience": 0}, "train.early_stopping_patience is 0; allowed: a whole number >= 1"),
        (
            {"train.variants.lenet5": "variants.lenet6"},
            "train.variants.lenet5 is 'variants.lenet6'; allowed: the name of a params section that exists",
        ),
    ],
)
def test_bad_params_stop_before_any_data_is_loaded(in_tmp_project: Path, updates, message):
    update_params(in_tmp_project / "params.yaml", updates)
    assert not Path("data").exists()  # would be a FileNotFoundError if data were read first
    with pytest.raises(ValueError, match=message):
        train.main("lenet5")


def test_stage_trains_on_the_backend_its_params_ask_for_unless_keras_backend_is_set(tiny_project: Path):
    """`python -m stages.train` applies the variant's `backend` before Keras is imported."""
    update_params(tiny_project / "params.yaml", {"variants.lenet5.backend": "jax", "variants.lenet5.epochs": 1})
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    # The plan line names the device it trains on: here the CPU's model, on a GPU machine the GPU.
    expected_lines = {backend: plan_here(tiny_project, backend, "lenet5") for backend in ("jax", "tensorflow")}
    for override, expected in ((None, expected_lines["jax"]), ("tensorflow", expected_lines["tensorflow"])):
        if override:
            environment["KERAS_BACKEND"] = override
        result = subprocess.run(
            [sys.executable, "-m", "stages.train", "lenet5"],
            cwd=tiny_project,
            env=environment,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"lenet5: {expected} (params ask for jax)" in result.stderr
        # The project's lines and Keras' progress only: no TensorFlow, absl, oneDNN or CUDA chatter
        # (either backend imports TensorFlow: DVCLive and the data pipeline use it).
        assert library_noise(result.stderr) == [], result.stderr
        assert "(params ask for jax)" in result.stderr
    assert keras.saving.load_model("data/models/lenet5.keras").count_params() == 44_426
