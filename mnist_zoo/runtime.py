"""Start-up, once per process and before TensorFlow, JAX or Keras is imported: every entry point
(each stage's `__main__`, the console scripts, the benchmark's workers) calls `start` first.

Keras fixes its backend when it is first imported, and each backend reads its GPU memory settings
when it starts, so both are set here, explicitly, rather than as a side effect of some import.
"""

import atexit
import logging
import os
import subprocess
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
# TensorFlow's C++ logging: errors only (2 hides its INFO and WARNING lines: oneDNN's notice, the CPU
# instructions it was not built for). A value the user set wins (0 shows everything).
LIBRARY_LOG_SETTINGS = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# What TensorFlow's libraries print to stderr as they load on a machine without a GPU, before any
# setting above is read: absl's notice that logging is not initialised yet, the CUDA stubs' INFO
# lines and cuInit's failure (an "E" line that is no error here: no GPU, so TensorFlow runs on the
# CPU, as the project's own "backend ... on ..." line says). Every other line passes untouched.
# MNIST_ZOO_LIBRARY_LOGS=1 lets these through too, to debug a GPU that is not found.
LIBRARY_NOISE = (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"^I\d{4} [\d:. ]+\d+ (cudart_stub|cuda_dnn|cuda_fft|cuda_blas|cpu_feature_guard|port)\.cc:\d+\] ",
    r"^E\d{4} [\d:. ]+\d+ cuda_(platform|executor|diagnostics)\.cc:\d+\] failed call to cuInit",
    r"^To enable the following instructions: .* in other operations, rebuild TensorFlow",
)
# Libraries that log through Python's logging at INFO what is no news (JAX: "Unable to initialize
# backend 'tpu'" on every machine without one); a stage logs at INFO, so these are held to WARNING.
QUIET_LOGGERS = ("jax", "absl")
# The filter: a child process (stdlib only) reading this process's stderr, so it outlives a crash
# of this one and passes every last line of a traceback on.
NOISE_FILTER = """
import re, sys
noise = re.compile("|".join(sys.argv[1:]))
for line in sys.stdin.buffer:
    if not noise.match(line.decode("utf-8", "replace")):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def share_accelerator_memory(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Apply ACCELERATOR_MEMORY_SETTINGS where `environ` does not set them; return what it holds now.

    A fixed share per process instead (e.g. XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 for two JAX
    workers) is the user's to set; docs/gpus.md says when that is the better choice."""
    for name, value in ACCELERATOR_MEMORY_SETTINGS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in ACCELERATOR_MEMORY_SETTINGS}


# The stderr filter this process installed, by process id (a forked child installs its own).
_noise_filters: dict[int, subprocess.Popen] = {}


def filter_library_noise() -> subprocess.Popen | None:
    """From now on, pass this process's stderr (file descriptor 2, where C++ libraries write)
    through a filter that drops LIBRARY_NOISE's lines; children started later share it. Returns the
    filter's process (None where MNIST_ZOO_LIBRARY_LOGS=1 asks for everything); a second call
    returns the first call's filter rather than stacking another behind it.

    At exit (a traceback is printed before), stderr is given back and the filter drained, so the
    last lines come out before whatever runs next (DVC's next stage) prints."""
    if os.environ.get("MNIST_ZOO_LIBRARY_LOGS") == "1":
        return None
    if os.getpid() in _noise_filters:
        return _noise_filters[os.getpid()]
    sys.stderr.flush()
    stderr = sys.stderr.fileno()
    original = os.dup(stderr)
    read_end, write_end = os.pipe()
    noise_filter = subprocess.Popen(
        [sys.executable, "-S", "-c", NOISE_FILTER, *LIBRARY_NOISE], stdin=read_end, stdout=original
    )
    os.close(read_end)
    os.dup2(write_end, stderr)
    os.close(write_end)

    def drain() -> None:
        sys.stderr.flush()
        os.dup2(original, stderr)  # closes this process's end of the pipe: the filter reads to its end
        try:
            noise_filter.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a child still holds the pipe: let the filter outlive us
            pass

    atexit.register(drain)
    _noise_filters[os.getpid()] = noise_filter
    return noise_filter


def start(
    backend: str | None = None,
    override: bool = False,
    environ: MutableMapping[str, str] = os.environ,
    quiet: bool = True,
) -> str | None:
    """Prepare this process: shareable accelerator memory, figures to files, quiet libraries, and
    the Keras `backend` (e.g. a variant's `backend` param) unless KERAS_BACKEND already names one (a
    whole zoo on JAX on a GPU machine) and `override` is false. Returns the backend Keras will use
    (None: Keras' default).

    `quiet`: drop the libraries' start-up chatter from stderr (`filter_library_noise`); a test
    calling this inside pytest passes False, leaving pytest's capture of stderr alone.

    Raises RuntimeError if Keras was imported before this call with another backend: the choice
    would be silently ignored."""
    share_accelerator_memory(environ)
    for name, value in (MATPLOTLIB_BACKEND | LIBRARY_LOG_SETTINGS).items():
        environ.setdefault(name, value)
    if quiet and environ is os.environ:
        filter_library_noise()
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
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
