"""VGG16 transfer: a clear error without weights, the offline weights-file path, cached features,
and a head trained on them while the base stays frozen."""

from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo.models import transfer
from mnist_zoo.params import load_params
from mnist_zoo.training import trainer
from stages import evaluate, features, train_transfer
from tests.conftest import spy_on_fit, update_params


@pytest.fixture
def in_tmp_project(in_tmp_project: Path) -> Path:
    """The project copy with vgg16_transfer opted in, as the README tells users to do."""
    update_params(
        in_tmp_project / "params.yaml", {"train.transfer_variants": {"vgg16_transfer": "variants.vgg16_transfer"}}
    )
    return in_tmp_project


@pytest.fixture
def local_weights(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VGG16 base's weights in a local file, as an offline user would provide (random, not ImageNet)."""
    path = tmp_path_factory.mktemp("weights") / "vgg16_notop.weights.h5"
    keras.utils.set_random_seed(0)
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(48, 48, 3)).save_weights(path)
    monkeypatch.setenv(transfer.WEIGHTS_VARIABLE, str(path))
    return path


def test_failed_download_says_how_to_fix_it(in_tmp_project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(transfer.WEIGHTS_VARIABLE, raising=False)

    def offline(*args: object, **kwargs: object) -> None:
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")

    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", offline)
    spec = transfer.transfer_spec(load_params(), "vgg16_transfer")
    assert spec["weights"] == "imagenet"
    with pytest.raises(RuntimeError, match="offline, download .*set VGG16_WEIGHTS=/path/to/that/file"):
        transfer.build_pretrained(spec)


def test_weights_variable_must_name_a_file(in_tmp_project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(transfer.WEIGHTS_VARIABLE, "/nowhere/vgg16.h5")
    with pytest.raises(ValueError, match="'/nowhere/vgg16.h5', which is not a file"):
        transfer.transfer_spec(load_params(), "vgg16_transfer")


def test_unknown_variant_lists_the_valid_ones(in_tmp_project: Path):
    with pytest.raises(
        ValueError,
        match=r"Unknown variant 'vgg19': not in params.yaml's train.variants or "
        r"train.transfer_variants; valid options: \['adam_5x5'",
    ):
        transfer.transfer_spec(load_params(), "vgg19")


def test_other_families_are_refused(in_tmp_project: Path):
    with pytest.raises(ValueError, match="lenet5 is of family 'convnet'"):
        transfer.transfer_spec(load_params(), "lenet5")


@pytest.mark.slow
def test_features_cached_then_head_trained_with_the_base_frozen(
    tiny_project: Path, local_weights: Path, monkeypatch: pytest.MonkeyPatch
):
    features.main("vgg16_transfer")
    with np.load("data/features/vgg16_transfer.npz") as arrays:
        assert arrays["train_features"].shape == (200, 512)
        assert arrays["validation_features"].shape == (60, 512)
        np.testing.assert_array_equal(arrays["train_labels"], np.load("data/prepared/train.npz")["labels"])

    # The head trains through mnist_zoo.training.trainer's own loop, with the recipe's early-stopping patience.
    update_params(tiny_project / "params.yaml", {"variants.vgg16_transfer.early_stopping_patience": 5})
    calls = spy_on_fit(monkeypatch, trainer)
    summary = train_transfer.main("vgg16_transfer")
    assert [call["patience"] for call in calls] == [5]
    assert summary["parameters"] == 15_226_698 and summary["epochs_run"] == 2
    trained = keras.saving.load_model("data/models/vgg16_transfer.keras")
    base = keras.applications.VGG16(include_top=False, weights=str(local_weights), input_shape=(48, 48, 3))
    for stored, original in zip(trained.get_layer("vgg16").get_weights(), base.get_weights(), strict=True):
        np.testing.assert_array_equal(stored, original)  # frozen: the base never moved
    fresh = transfer.build_pretrained(transfer.transfer_spec(load_params(), "vgg16_transfer"))
    assert not np.array_equal(trained.layers[-1].get_weights()[0], fresh.layers[-1].get_weights()[0])
    # The saved whole model evaluates like any other variant, straight from uint8 pixels (its Keras
    # file: the transfer variants are not exported).
    results = evaluate.main("vgg16_transfer", model="keras")
    assert 0.0 <= results["accuracy"] <= 1.0 and results["parameters"] == 15_226_698
