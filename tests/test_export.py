"""export: Keras' ONNX export of a trained variant, checked image by image with ONNX Runtime."""

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo.shipping import inference, onnx_export
from stages import export, train
from tests.conftest import update_params


def test_parity_counts_disagreements_and_the_largest_difference():
    labels = np.array([0, 1, 2, 3])
    keras_probabilities = np.eye(4, 10)[[0, 1, 2, 2]]
    onnx_probabilities = keras_probabilities.copy()
    onnx_probabilities[3] = np.eye(10)[3] * 0.6 + np.eye(10)[2] * 0.4  # flips the last image to the truth
    figures = onnx_export.parity(labels, keras_probabilities, onnx_probabilities)
    assert figures == {
        "num_images": 4,
        "agreement": 0.75,
        "num_disagreements": 1,
        "max_probability_difference": 0.6,
        "keras_accuracy": 0.75,
        "onnx_accuracy": 1.0,
    }


@pytest.mark.parametrize("value", [0, 1.5, "high", True, None])
def test_min_agreement_must_be_a_share(in_tmp_project: Path, value):
    update_params(in_tmp_project / "params.yaml", {"export.min_agreement": value})
    with pytest.raises(ValueError, match="export.min_agreement is .*; allowed: a number in \\(0, 1\\]"):
        export.main("lenet5")  # refused before the model or the data is read: there are none here


@pytest.mark.slow
def test_main_exports_every_variant_family_with_identical_answers(tiny_project: Path):
    for name in ("lenet5", "flagship"):  # a plain convnet, and one with augmentation and batch norm
        train.main(name)
        figures = export.main(name)
        assert Path(f"data/export/{name}.onnx").stat().st_size > 1000
        assert figures["agreement"] == 1.0 and figures["num_images"] == 100
        assert figures["max_probability_difference"] < 1e-4
        assert figures["onnx_accuracy"] == figures["keras_accuracy"]
        assert json.loads(Path(f"metrics/export/{name}.json").read_text()) == figures


def test_an_export_that_answers_differently_fails_and_writes_nothing(tiny_project: Path, monkeypatch):
    train.main("lenet5")
    # An export that ranks the digits in reverse, as a broken converter would.
    real_classifier = inference.onnx_classifier
    monkeypatch.setattr(
        inference, "onnx_classifier", lambda path: lambda images: real_classifier(path)(images)[:, ::-1]
    )
    with pytest.raises(ValueError, match=r"lenet5: the ONNX export predicts another digit .* nothing written"):
        export.main("lenet5")
    assert not list(Path("data/export").glob("*")) and not Path("metrics/export").exists()
