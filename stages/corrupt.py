"""Corrupt the MNIST test set once for every model: each kind in params.yaml robustness.corruptions
at robustness.severity, seeded (mnist_zoo/data/corruptions.py). Reads data/prepared/test.npz; writes
data/corrupted/<kind>.npz (uint8 images and their labels). Run alone: `python -m stages.corrupt`.
"""

import logging
import time

from mnist_zoo import config, runtime
from mnist_zoo.data.corruptions import corrupt
from mnist_zoo.data.dataset import load_split, write_split
from mnist_zoo.params import load_params

log = logging.getLogger("corrupt")


def main() -> None:
    settings = load_params()["robustness"]
    images, labels = load_split(config.PREPARED_DIR / "test.npz")
    for kind in settings["corruptions"]:
        started = time.perf_counter()
        corrupted = corrupt(images[..., 0], kind, settings["severity"], settings["seed"])
        write_split(config.CORRUPTED_DIR / f"{kind}.npz", corrupted, labels.astype("uint8"))
        log.info("%s: %d images in %.1f s", kind, len(corrupted), time.perf_counter() - started)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
