"""Fetch a dataset's files, each verified by the SHA-256 of its decompressed content, from its
mirror variable first (a directory or a URL), then params.yaml's mirrors in order: MNIST's four
files into data/raw/ ($MNIST_MIRROR, data.mirrors); with `--dataset qmnist` QMNIST's extended labels
(each digit's writer) into data/qmnist/ ($QMNIST_MIRROR, data.qmnist_mirrors); with `--dataset
fashion-mnist` Fashion-MNIST's test set into data/fashion/ ($FASHION_MNIST_MIRROR,
data.fashion_mirrors), the "not a digit" images. Run alone: `python -m stages.fetch` (or `dvc repro
fetch`, `dvc repro fetch_qmnist`, `dvc repro ship/dvc.yaml:fetch_fashion`).
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from mnist_zoo import runtime
from mnist_zoo.config import FASHION_DIR, QMNIST_DIR, RAW_DIR
from mnist_zoo.data.download import FASHION_MNIST, MNIST, QMNIST, FetchError, fetch_all, list_sources
from mnist_zoo.params import load_params

log = logging.getLogger("fetch")

# --dataset -> (what to fetch, where to)
DATASETS = {"mnist": (MNIST, RAW_DIR), "qmnist": (QMNIST, QMNIST_DIR), "fashion-mnist": (FASHION_MNIST, FASHION_DIR)}


def main(dataset: str = "mnist") -> None:
    data = load_params()["data"]
    wanted, output_dir = DATASETS[dataset]
    mirrors = data[wanted.mirrors_key.split(".", 1)[1]]
    sources = list_sources(list(mirrors), os.environ.get(wanted.variable))
    try:
        fetch_all(wanted, sources, Path(output_dir), float(data["download_timeout_seconds"]))
    except FetchError as error:
        log.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    arguments = parser.parse_args()
    runtime.start()
    main(arguments.dataset)
