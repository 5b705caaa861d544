"""Start-up, once per process and before TensorFlow, JAX or Keras is imported: every entry point
(each stage's `__main__`, the console scripts, the benchmark's workers) calls `start` first.

Keras fixes its backend when it is first imported, and each backend reads its GPU memory settings
when it starts, so both are set here, explicitly, rather than as a side effect of some import.
"""

import os
import sys
from collections.abc import MutableMapping

# Several processes may train on one GPU at once (`dvc queue start -j 2`, the workers of a sweep),
# and by default each backend takes (nearly) the whole GPU memory when it starts. Each setting is
# the library's own documented switch; a value the user already set wins.
ACCELERATOR_MEMORY_SETTINGS = {
    # TensorFlow: allocate GPU memory as it is needed instead of all of it at start-up.
    # https://www.tensorflow.org/guide/gpu#limiting_gpu_memory_growth
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    # JAX: do not preallocate 75% of the GPU memory when the backend starts.
    # https://docs.jax.dev/en/latest/gpu_memory_allocation.html
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
}
# Figures are files here, never windows: no display on CI, servers or GPU machines.
MATPLOTLIB_BACKEND = {"MPLBACKEND": "Agg"}


def share_accelerator_memory(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Apply ACCELERATOR_MEMORY_SETTINGS where `environ` does not set them; return what it holds now.

    A fixed share per process instead (e.g. XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 for two JAX
    workers) is the user's to set; docs/gpus.md says when that is the better choice."""
    for name, value in ACCELERATOR_MEMORY_SETTINGS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in ACCELERATOR_MEMORY_SETTINGS}


def start(
    backend: str | None = None, override: bool = False, environ: MutableMapping[str, str] = os.environ
) -> str | None:
    """Prepare this process: shareable accelerator memory, figures to files, and the Keras
    `backend` (e.g. a variant's `backend` param) unless KERAS_BACKEND already names one (a whole
    zoo on JAX on a GPU machine) and `override` is false. Returns the backend Keras will use
    (None: Keras' default).

    Raises RuntimeError if Keras was imported before this call with another backend: the choice
    would be silently ignored."""
    share_accelerator_memory(environ)
    for name, value in MATPLOTLIB_BACKEND.items():
        environ.setdefault(name, value)
    if backend and override:
        environ["KERAS_BACKEND"] = backend
    elif backend:
        environ.setdefault("KERAS_BACKEND", backend)
    chosen = environ.get("KERAS_BACKEND")
    keras = sys.modules.get("keras")
    if chosen and keras is not None and keras.backend.backend() != chosen:
        raise RuntimeError(
            f"Keras was imported with the {keras.backend.backend()} backend before "
            f"mnist_zoo.runtime.start could choose {chosen}; call start first."
        )
    return chosen
