"""The pipeline's stages, one module per DVC stage (dvc.yaml lists them).

Importing any of them first makes the accelerator's memory shareable, before TensorFlow or JAX can
start: several stage processes may train on one GPU at once (`dvc queue start -j 2`, or the
workers of a sweep), and by default each backend takes (nearly) the whole GPU memory when it starts.
"""

import os
from typing import MutableMapping

# Each setting is the library's own documented switch; a value the user already set wins.
ACCELERATOR_MEMORY_SETTINGS = {
    # TensorFlow: allocate GPU memory as it is needed instead of all of it at start-up.
    # https://www.tensorflow.org/guide/gpu#limiting_gpu_memory_growth
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    # JAX: do not preallocate 75% of the GPU memory when the backend starts.
    # https://docs.jax.dev/en/latest/gpu_memory_allocation.html
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
}


def share_accelerator_memory(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Apply ACCELERATOR_MEMORY_SETTINGS where `environ` does not set them; return what it holds now.

    A fixed share per process instead (e.g. XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 for two JAX
    workers) is the user's to set; README "GPUs" says when that is the better choice."""
    for name, value in ACCELERATOR_MEMORY_SETTINGS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in ACCELERATOR_MEMORY_SETTINGS}


share_accelerator_memory()
