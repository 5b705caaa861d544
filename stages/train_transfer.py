"""VGG16 transfer, second stage: fit the dense head on the cached features (seconds, not hours).
Reads data/features/<name>.npz; writes data/models/<name>.keras (the whole model, base included, so
`evaluate` treats it like any other variant) and its DVCLive curves in metrics/training/<name>/.
Run alone: `python -m stages.train_transfer vgg16_transfer` (or `dvc repro train_transfer@<name>`).
"""

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_backend, variant_spec

log = logging.getLogger("train_transfer")


def main(name: str, features_dir: Path = config.FEATURES_DIR) -> dict[str, Any]:
    from dvclive import Live

    from mnist_zoo.models.transfer import build_pretrained, head, transfer_spec
    from mnist_zoo.training.live import LiveCurves
    from mnist_zoo.training.trainer import save_model, seed_everything, train_variant

    params = load_params()
    spec = transfer_spec(params, name)
    seed_everything(int(params["seed"]))
    model = build_pretrained(spec)
    with np.load(features_dir / f"{name}.npz") as arrays:
        train_data = (arrays["train_features"], arrays["train_labels"])
        validation_data = (arrays["validation_features"], arrays["validation_labels"])
    with Live(dir=str(config.TRAINING_METRICS_DIR / name), dvcyaml=None, save_dvc_exp=False) as live:
        _, summary = train_variant(params, spec, train_data, validation_data, [LiveCurves(live)], model=head(model))
        summary["parameters"] = model.count_params()  # the whole model's, not just the head's
        live.summary.update(summary)
    save_model(model, config.MODELS_DIR / f"{name}.keras")  # the head's trained weights are the model's
    log.info("%s: %s", name, summary)
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.transfer_variants")
    arguments = parser.parse_args()
    runtime.start(variant_backend(variant_spec(load_params(), arguments.variant)))  # its `backend:` param
    main(arguments.variant)
