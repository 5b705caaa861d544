"""Put one variant's scores in git: its validation and test accuracy and log loss, read from its
evaluation (metrics/evaluation/<name>.json, in the DVC cache), to metrics/scores/<name>.json, a DVC
metric. Every experiment then shows its own scores in `dvc exp show`, in a fresh clone too, and
`mnist-search` chooses on the validation ones. It runs in a second: a clone that restores the
evaluation from the run-cache reruns it (a git file is not in the remote).

Run alone: `python -m stages.scores lenet5` (or `dvc repro scores@lenet5`).
"""

import argparse
import json
import logging
from typing import Any

from mnist_zoo import config
from mnist_zoo.files import write_json
from mnist_zoo.params import load_params, variant_spec

log = logging.getLogger("scores")
FIGURES = ("accuracy", "loss")


def scores(name: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    """{"validation": {name: {"accuracy", "loss"}}, "test": {...}}: the split first, so `dvc exp show`
    names the columns `validation.<name>.accuracy` ... and `--drop 'validation|test'` hides them."""
    test = {key: evaluation[key] for key in FIGURES}
    validation = {key: evaluation["validation"][key] for key in FIGURES}
    return {"validation": {name: validation}, "test": {name: test}}


def main(name: str) -> dict[str, Any]:
    variant_spec(load_params(), name)  # an unknown name stops here, before any file is read
    evaluation = json.loads((config.EVALUATION_DIR / f"{name}.json").read_text())
    result = scores(name, evaluation)
    write_json(config.SCORES_DIR / f"{name}.json", result)
    log.info(
        "%s: validation accuracy %.4f, test accuracy %.4f; wrote %s",
        name,
        result["validation"][name]["accuracy"],
        result["test"][name]["accuracy"],
        config.SCORES_DIR / f"{name}.json",
    )
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", help="a name from params.yaml train.variants")
    main(parser.parse_args().variant)
