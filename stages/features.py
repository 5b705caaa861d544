"""VGG16 transfer, first stage: the frozen ImageNet base's output for every training and validation
image, computed once. Reads data/prepared/{train,validation}.npz; writes data/features/<name>.npz.
Opt in through params.yaml train.transfer_variants, then `dvc repro` (features@<name>); alone:
`python -m stages.features vgg16_transfer` (VGG16_WEIGHTS=/path/to/the/notop.h5 offline).
"""

import argparse
import logging
import time
from pathlib import Path

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params, variant_backend, variant_spec

log = logging.getLogger("features")


def main(name: str, output_dir: Path = config.FEATURES_DIR) -> None:
    from mnist_zoo.data.dataset import load_split
    from mnist_zoo.files import write_npz
    from mnist_zoo.models.transfer import FEATURES_BATCH_SIZE, build_pretrained, feature_extractor, transfer_spec

    spec = transfer_spec(load_params(), name)
    extractor = feature_extractor(build_pretrained(spec))
    arrays = {}
    for split in ("train", "validation"):
        images, labels = load_split(config.PREPARED_DIR / f"{split}.npz")
        started = time.perf_counter()
        arrays[f"{split}_features"] = extractor.predict(images, batch_size=FEATURES_BATCH_SIZE, verbose=2)
        arrays[f"{split}_labels"] = labels
        log.info(
            "%s: %s features %s in %.0f s",
            name,
            split,
            arrays[f"{split}_features"].shape,
            time.perf_counter() - started,
        )
    write_npz(output_dir / f"{name}.npz", **arrays)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.transfer_variants")
    arguments = parser.parse_args()
    runtime.start(variant_backend(variant_spec(load_params(), arguments.variant)))  # its `backend:` param
    main(arguments.variant)
