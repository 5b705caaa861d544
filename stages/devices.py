"""Where and how a training run executes: which devices, data-parallel or not, which precision,
and the kernels and steps per execution that suit them. Used by stages.train and the benchmark.

`choose_plan` decides from plain values (tested without the hardware); `visible_devices` asks the
current Keras backend what it sees; `distribution_scope` applies a plan's data parallelism.
"""

import contextlib
import dataclasses
from typing import Iterator

import keras
import numpy as np

# On an accelerator, run this many training steps per call into compiled code, so the host's
# per-step dispatch hides behind the device's work. A CPU is its own host: more measured no faster.
ACCELERATOR_STEPS_PER_EXECUTION = 32


@dataclasses.dataclass(frozen=True)
class Plan:
    backend: str
    platform: str  # 'cpu', 'gpu' or 'tpu'
    num_devices: int  # data-parallel replicas; 1 trains on one device
    precision: str  # 'float32' or 'mixed_bfloat16'
    cpu_xla_kernels: bool  # train through models.PatchConv2D etc. (XLA on a CPU)
    steps_per_execution: int
    batch_size: int  # the recipe's, the global batch: each device gets batch_size / num_devices

    @property
    def trains_as_built(self) -> bool:
        """Whether the model can train as built: one device, float32, Keras' own kernels."""
        return self.num_devices == 1 and self.precision == "float32" and not self.cpu_xla_kernels

    def describe(self) -> str:
        """One log line: e.g. 'backend jax on 2 x gpu, data-parallel, global batch 128 = 2 x 64,
        mixed_bfloat16, 32 steps per execution'."""
        parts = [f"backend {self.backend} on {self.num_devices} x {self.platform}"]
        if self.num_devices > 1:
            parts.append(f"data-parallel, global batch {self.batch_size} = {self.num_devices} x "
                         f"{self.batch_size // self.num_devices}, learning rate as the recipe's")
        parts.append(self.precision)
        if self.cpu_xla_kernels:
            parts.append("XLA kernels for the CPU")
        parts.append(f"{self.steps_per_execution} step(s) per execution")
        return ", ".join(parts)


def choose_plan(backend: str, platform: str, num_devices: int, bfloat16_supported: bool,
                precision: str, batch_size: int) -> Plan:
    """Decide how to train on what is visible.

    Several devices of one kind mean data parallelism: each step splits the recipe's batch evenly
    over them (the global batch stays the recipe's, so the learning rate does too). 'auto'
    precision is mixed bfloat16 where the device computes it natively, float32 elsewhere.
    """
    if precision == "auto":
        precision = "mixed_bfloat16" if bfloat16_supported else "float32"
    if num_devices > 1 and batch_size % num_devices:
        raise ValueError(
            f"batch_size {batch_size} does not split evenly over the {num_devices} visible devices; "
            f"use a multiple of {num_devices}, or hide devices (CUDA_VISIBLE_DEVICES) to train on fewer.")
    return Plan(
        backend=backend, platform=platform, num_devices=num_devices, precision=precision,
        cpu_xla_kernels=backend == "jax" and platform == "cpu",
        steps_per_execution=1 if platform == "cpu" else ACCELERATOR_STEPS_PER_EXECUTION,
        batch_size=batch_size,
    )


def visible_devices() -> tuple[str, int, bool]:
    """(platform, number of devices to train on, whether they compute bfloat16 natively) for the
    current Keras backend. Several CPU devices are seen only where they were split on purpose
    (XLA_FLAGS=--xla_force_host_platform_device_count=N on JAX, logical devices on TensorFlow)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # each branch imports only its own backend's library

        devices = jax.devices()
        platform = devices[0].platform
        capability = getattr(devices[0], "compute_capability", None)  # CUDA devices only
        bfloat16 = platform == "tpu" or (platform == "gpu" and float(capability or 0) >= 8.0)
        return platform, len(devices), bfloat16
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
            return "gpu", len(tf.config.list_logical_devices("GPU")), tuple(capability) >= (8, 0)
        return "cpu", len(tf.config.list_logical_devices("CPU")), False
    import torch  # Keras has no data-parallel distribution for torch: train on one device

    if torch.cuda.is_available():
        return "gpu", 1, torch.cuda.is_bf16_supported()
    return "cpu", 1, False


def plan_for(spec: dict) -> Plan:
    """The plan for training a variant (its `precision` and `batch_size`) here and now."""
    platform, num_devices, bfloat16 = visible_devices()
    return choose_plan(keras.backend.backend(), platform, num_devices, bfloat16,
                       spec.get("precision", "float32"), spec["batch_size"])


@contextlib.contextmanager
def distribution_scope(plan: Plan) -> Iterator[None]:
    """Build, compile and fit inside this: with several devices it makes Keras replicate the
    variables and split each batch across them (Keras' DataParallel on JAX, MirroredStrategy on
    TensorFlow); with one device it does nothing."""
    if plan.num_devices == 1:
        yield
    elif plan.backend == "jax":
        with keras.distribution.DataParallel(devices=keras.distribution.list_devices()).scope():
            yield
    else:
        import tensorflow as tf

        kind = "GPU" if plan.platform == "gpu" else "CPU"
        strategy = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices(kind)])
        with strategy.scope():
            yield


def split_evenly(data: tuple[np.ndarray, np.ndarray], plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Drop the last few (< num_devices) examples so every batch, the last one too, splits evenly
    over the devices (JAX refuses an uneven shard)."""
    keep = len(data[0]) - len(data[0]) % plan.num_devices
    return data[0][:keep], data[1][:keep]
