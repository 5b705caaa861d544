"""A real flagship for the page's tests: the flagship recipe (params.yaml's `model`, 2 epochs on
30,000 real MNIST training images, through the project's training code), exported to ONNX as
`export` does, with the typicality basis and "not a digit" thresholds the robustness stage would
choose for it. Run in its own process (TensorFlow, as export needs):
`python -m tests.web_model OUT` with MNIST_MIRROR set; writes OUT/flagship.onnx,
OUT/typicality.npz and OUT/robustness/flagship.json.
"""

import json
import sys
from pathlib import Path

from mnist_zoo import runtime
from tests.browser import mnist_split

TRAIN_IMAGES = 30_000
VALIDATION_IMAGES = 2_000
EPOCHS = 2


def main(out: Path) -> None:
    runtime.start("tensorflow", override=True)
    import numpy as np

    from mnist_zoo.data import typicality
    from mnist_zoo.evaluation.robustness import not_a_digit
    from mnist_zoo.params import load_params, variant_spec
    from mnist_zoo.shipping.inference import onnx_classifier, predict_in_batches
    from mnist_zoo.shipping.onnx_export import export_onnx
    from mnist_zoo.training.trainer import train_variant

    images, labels = mnist_split("train")
    images = images[..., np.newaxis]
    labels = labels.astype(np.int32)
    params = load_params()
    spec = {**variant_spec(params, "flagship"), "epochs": EPOCHS}
    training = (images[:TRAIN_IMAGES], labels[:TRAIN_IMAGES])
    validation = (images[-VALIDATION_IMAGES:], labels[-VALIDATION_IMAGES:])
    model, _ = train_variant(params, spec, training, validation, early_stopping=False)
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out / "flagship.onnx")

    basis = typicality.fit(training[0][::5, ..., 0], params["robustness"]["typicality_components"])
    typicality.write(out / "typicality.npz", basis)
    digits = validation[0].astype(np.float32)
    probabilities = predict_in_batches(onnx_classifier(out / "flagship.onnx"), digits)
    scores = typicality.digit_scores(probabilities, digits[..., 0], basis)
    figures = not_a_digit(scores, scores, {}, params["robustness"]["true_positive_rate"])
    (out / "robustness").mkdir(exist_ok=True)
    (out / "robustness" / "flagship.json").write_text(json.dumps({"not_a_digit": figures}))
    accuracy = float(np.mean(probabilities.argmax(axis=1) == validation[1]))
    print(json.dumps({"validation_accuracy": accuracy}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
