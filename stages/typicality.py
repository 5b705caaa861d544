"""What MNIST digits look like, for telling them from other images: the top principal components of
the training digits (robustness.typicality_components of them). Reads data/prepared/train.npz;
writes data/export/typicality.npz, served beside the ONNX exports (`mnist-predict` reads it).
Run alone: `python -m stages.typicality`.
"""

import logging

from mnist_zoo import config, runtime
from mnist_zoo.data import typicality
from mnist_zoo.data.dataset import load_split
from mnist_zoo.params import load_params

log = logging.getLogger("typicality")

# Every fifth training image (11,000): the same components to a fraction of a percent, in a fifth of the time.
STRIDE = 5


def main() -> None:
    num_components = load_params()["robustness"]["typicality_components"]
    images, _ = load_split(config.PREPARED_DIR / "train.npz")
    basis = typicality.fit(images[::STRIDE], num_components)
    typicality.write(config.TYPICALITY_PATH, basis)
    log.info(
        "wrote %s: %d components of %d training images", config.TYPICALITY_PATH, num_components, len(images[::STRIDE])
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
