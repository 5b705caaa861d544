"""Several processes (one per host, or per GPU) training one model, with JAX's distributed runtime
and Keras' distribution API: which cluster this process belongs to (from the environment a
launcher such as Slurm's `srun` sets), joining it, and failing clearly when the others never come.
Used by the train stage; docs/gpus.md shows how to launch it.
"""

import dataclasses
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("cluster")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Several processes (one per host, or per GPU) training one model, as a scheduler starts them."""

    coordinator: str  # 'host:port' of process 0, which runs JAX's coordination service
    num_processes: int
    process_id: int
    join_timeout: int  # seconds to wait for every process to join before giving up


# Keras' own names for the cluster (keras.distribution.initialize reads the same three), plus ours
# for how long to wait; JAX's own default wait is 300 s.
CLUSTER_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
JOIN_TIMEOUT_VARIABLE, DEFAULT_JOIN_TIMEOUT = "MNIST_JOIN_TIMEOUT", 300


def cluster_from_environment(environ: Mapping[str, str] = os.environ) -> Cluster | None:
    """The cluster this process belongs to, from the environment a launcher (srun, a job script)
    sets; None when it trains alone (KERAS_DISTRIBUTION_NUM_PROCESSES unset or 1)."""
    if environ.get(CLUSTER_VARIABLES[1], "1").strip() == "1":
        return None
    missing = [name for name in CLUSTER_VARIABLES if not environ.get(name, "").strip()]
    if missing:
        raise ValueError(
            f"{CLUSTER_VARIABLES[1]} asks for several processes, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; set all of {', '.join(CLUSTER_VARIABLES)} "
            "(the coordinator's host:port, the number of processes, this one's index from 0)."
        )
    numbers = {}
    for name in (*CLUSTER_VARIABLES[1:], JOIN_TIMEOUT_VARIABLE):
        text = environ.get(name, str(DEFAULT_JOIN_TIMEOUT)).strip()
        if not text.isdigit():
            raise ValueError(f"{name}={text!r} is not a whole number.")
        numbers[name] = int(text)
    num_processes, process_id, timeout = numbers.values()
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"{CLUSTER_VARIABLES[2]}={process_id} is outside 0..{num_processes - 1} "
            f"for {CLUSTER_VARIABLES[1]}={num_processes}."
        )
    if timeout < 1:
        raise ValueError(f"{JOIN_TIMEOUT_VARIABLE}={timeout}: the join timeout must be at least 1 second.")
    # Keras accepts every job's address; the first is the coordinator's.
    coordinator = environ[CLUSTER_VARIABLES[0]].split(",")[0].strip()
    if ":" not in coordinator:
        raise ValueError(
            f"{CLUSTER_VARIABLES[0]}={environ[CLUSTER_VARIABLES[0]]!r}: give process 0's "
            "address as host:port, e.g. 10.0.0.1:29500."
        )
    return Cluster(coordinator, num_processes, process_id, timeout)


def join_cluster(cluster: Cluster) -> None:
    """Connect to the other processes with JAX's distributed runtime, before the backend starts;
    from then on jax.devices() and keras.distribution.list_devices() are every process's devices.

    keras.distribution.initialize does the same with JAX's default 300 s wait, which it cannot
    change, so this calls jax.distributed.initialize itself with the cluster's timeout. (Keras'
    initialize also agrees on a random seed across processes; seed_everything has set one.)"""
    import jax

    # Collectives between CPU processes (the test on 127.0.0.1; GPUs use NCCL whatever this says).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=cluster.coordinator,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
        initialization_timeout=cluster.join_timeout,
    )


# How long past the join timeout to wait for a child that has not reported back: its imports.
JOIN_GRACE_SECONDS = 120


def _join_then_run(
    cluster: Cluster, log_level: int, joined: Any, results: Any, work: Callable[..., Any], args: tuple
) -> None:
    logging.basicConfig(level=log_level, format=f"%(name)s[{cluster.process_id}]: %(message)s")
    join_cluster(cluster)
    joined.set()
    results.put(work(*args))


def run_in_cluster(cluster: Cluster, work: Callable[..., Any], *args: Any) -> Any:
    """Join `cluster`, then return `work(*args)`; if this process cannot join within the timeout,
    raise an error that says why and what to check, having run none of `work`.

    JAX ends a process that cannot join with abort() (a C++ stack trace, no Python exception), so
    the join and the work run in a child process and this one turns the child's fate into an error."""
    context = multiprocessing.get_context("spawn")
    joined, results = context.Event(), context.SimpleQueue()
    child = context.Process(
        target=_join_then_run, args=(cluster, logging.getLogger().level, joined, results, work, args)
    )
    log.info(
        "process %d of %d: joining through the coordinator at %s (waiting up to %d s, %s)",
        cluster.process_id,
        cluster.num_processes,
        cluster.coordinator,
        cluster.join_timeout,
        JOIN_TIMEOUT_VARIABLE,
    )
    child.start()
    deadline = time.monotonic() + cluster.join_timeout + JOIN_GRACE_SECONDS
    while not joined.wait(0.5) and child.is_alive():
        if time.monotonic() > deadline:  # JAX should have given up by now; make sure
            child.kill()
    child.join()  # once joined, as long as the training takes
    if not joined.is_set():
        raise RuntimeError(
            f"process {cluster.process_id} of {cluster.num_processes} could not join the others through the "
            f"coordinator at {cluster.coordinator} within {cluster.join_timeout} s ({JOIN_TIMEOUT_VARIABLE}); "
            f"nothing was trained or written. Start all {cluster.num_processes} processes "
            f"({CLUSTER_VARIABLES[2]} 0 to {cluster.num_processes - 1}) with the same {CLUSTER_VARIABLES[0]} "
            "(process 0's host:port, reachable from every host), or wait longer with a larger timeout."
        )
    if child.exitcode != 0:
        raise RuntimeError(
            f"process {cluster.process_id} of {cluster.num_processes} joined but stopped "
            f"with exit code {child.exitcode} while training; its error is above."
        )
    return results.get()
