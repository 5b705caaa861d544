"""How one variant fails, through its ONNX export (ONNX Runtime: no TensorFlow): its accuracy on
each corrupted test set, on other writers' digits (scikit-learn's), and how well its "not a digit"
check tells digits from images that are not (Fashion-MNIST's test set, noise): four scores per
image, the model's top probability and three typicalities of the image (mnist_zoo/data/typicality.py),
each with its threshold chosen on the validation digits.

Reads data/export/<name>.onnx and typicality.npz, data/corrupted/, data/prepared/{validation,test}.npz
and data/fashion/; writes metrics/robustness/<name>.json. Run alone: `python -m stages.robustness lenet5`.
"""

import argparse
import logging
from typing import Any

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_spec

log = logging.getLogger("robustness")


def main(name: str) -> dict[str, Any]:
    params = load_params()
    variant_spec(params, name)  # an unknown name stops here, before any file is read
    settings = params["robustness"]
    from mnist_zoo.data import typicality
    from mnist_zoo.evaluation.robustness import robustness_record
    from mnist_zoo.files import write_json
    from mnist_zoo.shipping.inference import onnx_classifier, predict_in_batches

    classify = onnx_classifier(config.EXPORT_DIR / f"{name}.onnx")

    def probabilities(images: np.ndarray) -> np.ndarray:
        return predict_in_batches(classify, images.reshape(-1, *config.INPUT_SHAPE).astype(np.float32))

    results = robustness_record(
        probabilities,
        typicality.load(config.TYPICALITY_PATH),
        settings,
        config.PREPARED_DIR,
        config.CORRUPTED_DIR,
        config.FASHION_DIR,
    )
    write_json(config.ROBUSTNESS_DIR / f"{name}.json", results)
    ood = results["not_a_digit"]
    log.info(
        "%s: corrupted %.4f (clean %.4f), other writers %.4f, not a digit: AUROC %.4f on Fashion-MNIST, "
        "%.4f on noise, %.2f%% of test digits turned away",
        name,
        results["mean_corruption_accuracy"],
        results["clean_accuracy"],
        results["other_writers"]["accuracy"],
        ood["fashion_mnist"]["auroc"],
        ood["noise"]["auroc"],
        100 * ood["test_digits_rejected"],
    )
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    arguments = parser.parse_args()
    runtime.start()
    main(arguments.variant)
