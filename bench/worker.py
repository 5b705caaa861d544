"""One benchmark measurement in a process of its own: `python -m bench.worker plain|landed|project
VARIANT`, or `python -m bench.worker matmul` for the machine's large-matrix-product rate.

`plain` is the posts' way (float32 arrays into Keras' own loop, TensorFlow, one device as built);
`project` is the train stage's path (the variant's backend and plan, the "compiled" epoch loop);
`landed` is the project path with Keras' own epoch loop, as it was before mnist_zoo/training/epochs.py.

Prints one JSON line: the backend, the number of training images, the training arithmetic per
image, each epoch's seconds and, with --test-accuracy, each epoch's test accuracy. The Keras backend
is chosen before Keras is imported (it is fixed per process): TensorFlow for `plain` and `matmul`,
the variant's `backend` param for `project` and `landed`.
"""

import argparse
import json

from mnist_zoo import runtime
from mnist_zoo.params import load_params, variant_backend, variant_spec

PATHS = ("plain", "landed", "project")


def backend_for(path: str, variant: str | None) -> str | None:
    """The posts' backend for the plain path and the ceiling, whatever the shell says; the
    variant's param (or KERAS_BACKEND) for the project's paths."""
    if path in ("plain", "matmul"):
        return "tensorflow"
    return variant_backend(variant_spec(load_params(), variant)) if variant else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", choices=[*PATHS, "matmul"])
    parser.add_argument("variant", nargs="?", help="a name from train.variants (not for matmul)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--test-accuracy", action="store_true")
    arguments = parser.parse_args()
    if arguments.path != "matmul" and not arguments.variant:
        parser.error(f"{arguments.path} needs a variant name.")
    # The plain path and the ceiling are defined by their backend: the shell's KERAS_BACKEND loses.
    runtime.start(backend_for(arguments.path, arguments.variant), override=arguments.path in ("plain", "matmul"))
    from bench import measure

    if arguments.path == "matmul":
        print(json.dumps({"backend": measure.keras.backend.backend(), "matmul_gflops": measure.matmul_gflops()}))
    else:
        print(
            json.dumps(
                measure.measure(
                    arguments.path, arguments.variant, arguments.epochs, arguments.images, arguments.test_accuracy
                )
            )
        )
