"""Fetch the four MNIST files into data/raw/, each verified by the SHA-256 of its decompressed
content: from $MNIST_MIRROR first (a directory or a URL), then params.yaml `data.mirrors` in order.
Run alone: `python -m stages.fetch` (or `dvc repro fetch`).
"""

import logging
import os
import sys

from mnist_zoo import runtime
from mnist_zoo.config import RAW_DIR
from mnist_zoo.download import MIRROR_VARIABLE, FetchError, fetch_all, list_sources
from mnist_zoo.params import load_params

log = logging.getLogger("fetch")


def main() -> None:
    data = load_params()["data"]
    sources = list_sources(list(data["mirrors"]), os.environ.get(MIRROR_VARIABLE))
    try:
        fetch_all(sources, RAW_DIR, float(data["download_timeout_seconds"]))
    except FetchError as error:
        log.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
