"""Where and how a training run executes: which devices, data-parallel or not, which precision,
and the kernels and steps per execution that suit them. Used by mnist_zoo.training.trainer and the benchmark.

`choose_plan` decides from plain values (tested without the hardware); `visible_devices` asks the
current Keras backend what it sees; `distribution_scope` applies a plan's data parallelism.
On several processes (hosts) of a cluster (mnist_zoo/training/cluster.py), a plan covers every process's devices.
"""

import contextlib
import dataclasses
import logging
import os
import platform as platform_module
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

log = logging.getLogger("devices")

# On an accelerator, run this many training steps per call into compiled code, so the host's
# per-step dispatch hides behind the device's work. A CPU is its own host: more measured no faster.
ACCELERATOR_STEPS_PER_EXECUTION = 32


@dataclasses.dataclass(frozen=True)
class Plan:
    backend: str
    platform: str  # 'cpu', 'gpu' or 'tpu'
    num_devices: int  # data-parallel replicas; 1 trains on one device
    precision: str  # 'float32' or 'mixed_bfloat16'
    cpu_xla_kernels: bool  # train through kernels.PatchConv2D etc. (XLA on a CPU)
    steps_per_execution: int
    batch_size: int  # the recipe's, the global batch: each device gets batch_size / num_devices
    device_name: str = ""  # e.g. 'NVIDIA H100 80GB HBM3', or the CPU's model name
    num_processes: int = 1  # processes (hosts) training this one model together; see Cluster
    process_id: int = 0  # this process's index; only process 0 writes anything

    @property
    def trains_as_built(self) -> bool:
        """Whether the model can train as built: one device, float32, Keras' own kernels."""
        return self.num_devices == 1 and self.precision == "float32" and not self.cpu_xla_kernels

    def describe(self) -> str:
        """One log line: e.g. 'backend jax on 2 x gpu (NVIDIA H100 80GB HBM3), data-parallel, global
        batch 128 = 2 x 64, learning rate as the recipe's, mixed_bfloat16, 32 step(s) per execution'."""
        device = f"{self.num_devices} x {self.platform}" + (f" ({self.device_name})" if self.device_name else "")
        parts = [f"backend {self.backend} on {device}"]
        if self.num_processes > 1:
            parts.append(
                f"process {self.process_id} of {self.num_processes}"
                f"{' (writes the outputs)' if self.process_id == 0 else ' (writes nothing)'}"
            )
        if self.num_devices > 1:
            parts.append(
                f"data-parallel, global batch {self.batch_size} = {self.num_devices} x "
                f"{self.batch_size // self.num_devices}, learning rate as the recipe's"
            )
        parts.append(self.precision)
        if self.cpu_xla_kernels:
            parts.append("XLA kernels for the CPU")
        parts.append(f"{self.steps_per_execution} step(s) per execution")
        return ", ".join(parts)


def choose_plan(
    backend: str,
    platform: str,
    num_devices: int,
    bfloat16_supported: bool,
    precision: str,
    batch_size: int,
    device_name: str = "",
    num_processes: int = 1,
    process_id: int = 0,
) -> Plan:
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
            f"use a multiple of {num_devices}, or hide devices (CUDA_VISIBLE_DEVICES) to train on fewer."
        )
    return Plan(
        backend=backend,
        platform=platform,
        num_devices=num_devices,
        precision=precision,
        cpu_xla_kernels=backend == "jax" and platform == "cpu",
        steps_per_execution=1 if platform == "cpu" else ACCELERATOR_STEPS_PER_EXECUTION,
        batch_size=batch_size,
        device_name=device_name,
        num_processes=num_processes,
        process_id=process_id,
    )


class Devices(NamedTuple):
    platform: str  # 'cpu', 'gpu' or 'tpu'
    count: int  # devices to train on, over every process of a cluster
    bfloat16: bool  # whether they compute bfloat16 natively
    name: str  # the first one's model, e.g. 'NVIDIA H100 80GB HBM3'


def visible_devices() -> Devices:
    """What the current Keras backend trains on. Several CPU devices are seen only where they were
    split on purpose (XLA_FLAGS=--xla_force_host_platform_device_count=N on JAX, logical devices on
    TensorFlow); on JAX after `join_cluster`, every process's devices count."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # each branch imports only its own backend's library

        devices = jax.devices()
        platform = devices[0].platform
        capability = getattr(devices[0], "compute_capability", None)  # CUDA devices only
        bfloat16 = platform == "tpu" or (platform == "gpu" and float(capability or 0) >= 8.0)
        name = cpu_name() if platform == "cpu" else devices[0].device_kind
        return Devices(platform, len(devices), bfloat16, name)
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return Devices(
                "gpu",
                len(tf.config.list_logical_devices("GPU")),
                tuple(details.get("compute_capability", (0, 0))) >= (8, 0),
                details.get("device_name", "GPU"),
            )
        return Devices("cpu", len(tf.config.list_logical_devices("CPU")), False, cpu_name())
    import torch  # Keras has no data-parallel distribution for torch: train on one device

    if torch.cuda.is_available():
        return Devices("gpu", 1, torch.cuda.is_bf16_supported(), torch.cuda.get_device_name(0))
    return Devices("cpu", 1, False, cpu_name())


def cpu_facts(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> tuple[str, str]:
    """The CPU's model name and its widest vector unit ('AVX-512', 'AVX2' or 'no AVX2')."""
    name, flags = platform_module.processor() or platform_module.machine(), set()
    if cpuinfo_path.exists():
        for line in cpuinfo_path.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
            if name and flags:
                break
    return name, "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"


def cpu_name() -> str:
    return cpu_facts()[0]


def describe_machine(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> str:
    """The hardware and libraries a model trained with, for its model card: e.g. 'AMD EPYC (x86_64,
    2 cores, AVX2), Keras 3.15.1 on jax 0.10.2'. The CPU's vector width changes both speed and the
    last digit of the metrics, so it is named."""
    name, vector = cpu_facts(cpuinfo_path)
    backend = keras.backend.backend()
    backend_version = getattr(sys.modules.get(backend), "__version__", "?")
    return (
        f"{name} ({platform_module.machine()}, {os.cpu_count()} cores, {vector}), "
        f"Keras {keras.__version__} on {backend} {backend_version}"
    )


# Set to 1 on a machine that must train on its GPU (or TPU): a run that finds only the CPU then
# stops at once instead of training there. Unset (or 0), CPU training works as always.
REQUIRE_ACCELERATOR_VARIABLE = "MNIST_REQUIRE_ACCELERATOR"
NVIDIA_DEVICE = Path("/dev/nvidia0")  # the first NVIDIA GPU's device file: there is one to use


def accelerator_required(environ: Mapping[str, str] = os.environ) -> bool:
    value = environ.get(REQUIRE_ACCELERATOR_VARIABLE, "").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(
            f"{REQUIRE_ACCELERATOR_VARIABLE}={environ[REQUIRE_ACCELERATOR_VARIABLE]!r} "
            "is not a switch; set it to 1 to require a GPU or TPU, 0 (or unset it) to allow the CPU."
        )
    return value in ("1", "true", "yes")


def check_accelerator(backend: str, devices: Devices, required: bool, nvidia_device: Path = NVIDIA_DEVICE) -> None:
    """Never fall back to the CPU silently: refuse it when an accelerator is `required`, and warn
    when an NVIDIA GPU is plugged in but the backend sees only the CPU (the CPU builds installed)."""
    if devices.platform != "cpu":
        return
    fix = (
        "install the GPU builds (pip install -r requirements-gpu.txt) and check that `nvidia-smi` "
        "lists the GPU and CUDA_VISIBLE_DEVICES does not hide it"
    )
    if required:
        raise RuntimeError(
            f"{REQUIRE_ACCELERATOR_VARIABLE} is set, but backend {backend} sees no GPU or TPU, only the "
            f"CPU ({devices.name}). To train on the GPU, {fix}; to train on the CPU, unset "
            f"{REQUIRE_ACCELERATOR_VARIABLE}. Nothing was trained or written."
        )
    if nvidia_device.exists():
        log.warning(
            "this machine has an NVIDIA GPU (%s) but backend %s sees only the CPU, so this run "
            "trains on the CPU: %s (set %s=1 to make this an error)",
            nvidia_device,
            backend,
            fix,
            REQUIRE_ACCELERATOR_VARIABLE,
        )


def plan_for(spec: dict) -> Plan:
    """The plan for training a variant (its `precision` and `batch_size`) here and now; on JAX
    after `join_cluster`, over every process's devices."""
    backend, devices = keras.backend.backend(), visible_devices()
    check_accelerator(backend, devices, accelerator_required())
    num_processes, process_id = 1, 0
    if backend == "jax":
        import jax

        num_processes, process_id = jax.process_count(), jax.process_index()
    return choose_plan(
        backend,
        devices.platform,
        devices.count,
        devices.bfloat16,
        spec.get("precision", "float32"),
        spec["batch_size"],
        devices.name,
        num_processes,
        process_id,
    )


@contextlib.contextmanager
def distribution_scope(plan: Plan) -> Iterator[None]:
    """Build, compile and fit inside this: with several devices it makes Keras replicate the
    variables and split each batch across them (Keras' DataParallel on JAX, MirroredStrategy on
    TensorFlow); with one device it does nothing."""
    if plan.num_devices == 1:
        yield
    elif plan.backend == "jax":
        distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        # Each process already holds its own share of the data (split_evenly), as Keras asks of
        # arrays on several processes; it would otherwise want a tf.data.Dataset to shard itself.
        distribution.auto_shard_dataset = False
        with distribution.scope():
            yield
    else:
        import tensorflow as tf

        kind = "GPU" if plan.platform == "gpu" else "CPU"
        strategy = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices(kind)])
        with strategy.scope():
            yield


def split_evenly(data: tuple[np.ndarray, np.ndarray], plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Drop the last few (< num_devices) examples so every batch, the last one too, splits evenly
    over the devices (JAX refuses an uneven shard); on several processes, keep this process's share
    (every num_processes-th example), which it feeds into each global batch."""
    keep = len(data[0]) - len(data[0]) % plan.num_devices
    share = slice(plan.process_id, keep, plan.num_processes)
    return data[0][share], data[1][share]
