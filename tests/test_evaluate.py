"""evaluate: scikit-learn's metrics in the per-variant JSON, DVC's confusion form, and the PNGs."""

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo.evaluation import scoring
from stages import evaluate
from tests.conftest import trained_and_exported, update_params

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def one_hot_probabilities(predictions: list[int], confidence: float = 0.9) -> np.ndarray:
    probabilities = np.full((len(predictions), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(predictions)), predictions] = confidence
    return probabilities


def test_metrics_match_a_hand_worked_example():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    predictions = [0, 1, 1, 1, 2, 2, 0]
    results = scoring.classification_metrics(labels, one_hot_probabilities(predictions))
    assert results["accuracy"] == pytest.approx(5 / 7, abs=1e-6)
    digit_0 = results["per_class"]["0"]  # predicted 0 twice, right once; 2 true 0s, found 1
    assert (digit_0["precision"], digit_0["recall"], digit_0["f1"], digit_0["support"]) == (0.5, 0.5, 0.5, 2)
    digit_1 = results["per_class"]["1"]  # precision 2/3, recall 1
    assert digit_1["precision"] == pytest.approx(2 / 3, abs=1e-6) and digit_1["recall"] == 1.0
    assert results["per_class"]["7"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert results["loss"] == pytest.approx(-np.mean([np.log(0.9)] * 5 + [np.log(0.1 / 9)] * 2), abs=1e-5)
    f1 = [0.5, 0.8, 0.8]
    assert results["f1_weighted"] == pytest.approx(np.average(f1, weights=[2, 2, 3]), abs=1e-6)
    assert results["f1_macro"] == pytest.approx(sum(f1) / 10, abs=1e-6)  # macro over all ten digits


@pytest.mark.parametrize("seed", range(5))
def test_the_numpy_metrics_are_scikit_learns(seed: int):
    """classification_metrics counts with NumPy (sklearn.metrics costs evaluate ~1.6 s to import):
    the figures are scikit-learn's to the six decimals written, digits missing from either side too."""
    from sklearn import metrics

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 8, size=300)  # 8 and 9 never the true digit
    probabilities = rng.dirichlet(np.ones(10) * 0.3, size=300)
    probabilities[:, 3] = 0  # 3 never predicted
    predictions = probabilities.argmax(axis=1)
    results = scoring.classification_metrics(labels, probabilities)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=range(10), zero_division=0
    )
    assert results["accuracy"] == round(metrics.accuracy_score(labels, predictions), 6)
    assert results["f1_macro"] == round(metrics.f1_score(labels, predictions, labels=range(10), average="macro"), 6)
    assert results["f1_weighted"] == round(np.average(f1, weights=support), 6)
    for digit in range(10):
        assert results["per_class"][str(digit)] == {
            "precision": round(precision[digit], 6),
            "recall": round(recall[digit], 6),
            "f1": round(f1[digit], 6),
            "support": support[digit],
        }
    np.testing.assert_array_equal(
        scoring.confusion_matrix(labels, predictions), metrics.confusion_matrix(labels, predictions, labels=range(10))
    )


def test_confusion_csv_has_one_row_per_image_in_dvc_form():
    assert scoring.confusion_csv(np.array([3, 5]), np.array([3, 8])) == b"actual,predicted\n3,3\n5,8\n"


def test_worst_misclassified_are_the_most_confident_mistakes():
    labels = np.array([1, 2, 3, 4])
    probabilities = np.full((4, 10), 0.01)
    probabilities[0, 7] = 0.6  # wrong, 60%
    probabilities[1, 2] = 0.99  # right
    probabilities[2, 9] = 0.95  # wrong, 95%
    probabilities[3, 0] = 0.7  # wrong, 70%
    assert scoring.worst_misclassified(labels, probabilities, 2).tolist() == [2, 3]
    assert scoring.worst_misclassified(labels, probabilities, 10).tolist() == [2, 3, 0]


def test_the_library_returns_the_record_the_stage_writes(tiny_project: Path):
    """evaluation.record.evaluate_model judges a model without writing anything; the stage writes
    what it returns (the images per second aside: a second timing)."""
    from mnist_zoo import config
    from mnist_zoo.evaluation.record import evaluate_model
    from mnist_zoo.shipping.inference import onnx_classifier, predict_in_batches

    trained_and_exported("lenet5")
    written = evaluate.main("lenet5")
    before = sorted(path for path in Path(".").rglob("*") if path.is_file())
    classify = onnx_classifier(config.EXPORT_DIR / "lenet5.onnx")
    training = json.loads((config.TRAINING_METRICS_DIR / "lenet5" / "metrics.json").read_text())
    settings = written_settings()
    judged = evaluate_model(lambda x: predict_in_batches(classify, x), config.PREPARED_DIR, training, settings)
    assert sorted(path for path in Path(".").rglob("*") if path.is_file()) == before
    assert without_timing(judged.record) == without_timing(written)
    assert judged.record["slices"]["own"]["images"] == 10 and len(judged.predictions) == 100
    np.testing.assert_array_equal(judged.predictions, np.load("metrics/predictions/lenet5.npy"))


def test_judging_the_export_gives_the_keras_models_figures(tiny_project: Path):
    """evaluate scores the ONNX export, not the Keras model it was converted from (which would
    import TensorFlow): every figure of the record is the Keras model's, to float32's rounding."""
    import keras

    from mnist_zoo import config
    from mnist_zoo.evaluation.record import evaluate_model

    trained_and_exported("lenet5")
    onnx_record = without_timing(evaluate.main("lenet5"))
    model = keras.saving.load_model(config.MODELS_DIR / "lenet5.keras")
    training = json.loads((config.TRAINING_METRICS_DIR / "lenet5" / "metrics.json").read_text())
    judged = evaluate_model(
        lambda x: model.predict(x, batch_size=256, verbose=0), config.PREPARED_DIR, training, written_settings()
    )
    np.testing.assert_array_equal(judged.predictions, np.load("metrics/predictions/lenet5.npy"))
    assert_same_figures(without_timing(judged.record), onnx_record)
    assert onnx_record["parameters"] == model.count_params()


def assert_same_figures(expected: object, actual: object, where: str = "record") -> None:
    """The same nested record, numbers equal to 1e-5 (float32 arithmetic in another order)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            assert_same_figures(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (one, other) in enumerate(zip(expected, actual, strict=True)):
            assert_same_figures(one, other, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-5), where
    else:
        assert actual == expected, where


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "images_per_second"}


def written_settings() -> dict:
    from mnist_zoo.params import load_params

    return load_params()["evaluate"]


def test_main_writes_metrics_and_stable_pngs(tiny_project: Path):
    trained_and_exported("lenet5")
    results = evaluate.main("lenet5")
    stored = json.loads(Path("metrics/evaluation/lenet5.json").read_text())
    assert stored == results
    assert set(stored["per_class"]) == {str(digit) for digit in range(10)}
    assert sum(entry["support"] for entry in stored["per_class"].values()) == 100
    assert stored["parameters"] == 44_426 and stored["epochs_run"] == 2 and stored["images_per_second"] > 0
    rows = Path("plots/confusion/lenet5.csv").read_text().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == 101
    correct = sum(actual == predicted for actual, predicted in (row.split(",") for row in rows[1:]))
    assert correct / 100 == pytest.approx(stored["accuracy"])
    # Its digit per test image, for paired tests between revisions, and its calibration.
    predictions = np.load("metrics/predictions/lenet5.npy")
    assert predictions.shape == (100,) and predictions.dtype == np.uint8
    assert [int(row.split(",")[1]) for row in rows[1:]] == predictions.tolist()
    calibration = stored["calibration"]
    assert set(calibration) >= {
        "ece",
        "mce",
        "brier",
        "log_loss_after_temperature",
        "temperature",
        "ece_after_temperature",
    }
    assert 0 <= calibration["ece"] <= 1 and calibration["num_bins"] == 15 and calibration["temperature"] > 0
    reliability = Path("plots/reliability/lenet5.csv").read_text().splitlines()
    assert reliability[0] == "bin_lower,bin_upper,count,confidence,accuracy"
    assert sum(int(row.split(",")[2]) for row in reliability[1:]) == 100
    pngs = [
        Path("plots/confusion/lenet5.png"),
        Path("plots/misclassified/lenet5.png"),
        Path("plots/reliability/lenet5.png"),
    ]
    first = [png.read_bytes() for png in pngs]
    assert all(content.startswith(PNG_SIGNATURE) and len(content) > 5000 for content in first)
    evaluate.main("lenet5")
    assert [png.read_bytes() for png in pngs] == first  # byte-stable for the same inputs


@pytest.mark.parametrize("count", [0, -1, 101, 2.5])
def test_bad_misclassified_count_is_refused_before_loading(in_tmp_project: Path, count):
    update_params(in_tmp_project / "params.yaml", {"evaluate.num_misclassified": count})
    with pytest.raises(ValueError, match=rf"evaluate.num_misclassified is {count}; allowed: a whole number from 1 to"):
        evaluate.main("lenet5")


def test_an_unknown_variant_is_refused_before_loading(in_tmp_project: Path):
    with pytest.raises(ValueError, match=r"Unknown variant 'lenet6'.*valid options: \['adam_5x5'"):
        evaluate.main("lenet6")


def test_judging_the_export_imports_no_keras_backend(tiny_project: Path):
    """The stage as DVC runs it: its default path (the ONNX export) never imports Keras, TensorFlow
    or JAX, the 7 s a variant it used to pay; nor scikit-learn's metrics or SciPy's statistics."""
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    trained_and_exported("lenet5")
    script = (
        "import runpy, sys; sys.argv = ['stages.evaluate', 'lenet5']; "
        "runpy.run_module('stages.evaluate', run_name='__main__', alter_sys=True); "
        "print(sorted({'keras', 'tensorflow', 'jax', 'sklearn.metrics', 'scipy.stats'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tiny_project,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads(Path("metrics/evaluation/lenet5.json").read_text())["slices"]["own"]["images"] == 10


def test_an_unknown_model_kind_is_refused_before_loading(in_tmp_project: Path):
    with pytest.raises(ValueError, match=r"--model 'pt': allowed \['keras', 'onnx'\]"):
        evaluate.main("lenet5", model="pt")
