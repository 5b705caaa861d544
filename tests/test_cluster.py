"""One train stage as several processes (hosts) with JAX's distributed runtime, proved on
127.0.0.1 with JAX's CPU collectives: the processes train one model together, only process 0
writes, and a process whose peers never come fails clearly, having written nothing."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo.training.cluster import Cluster, cluster_from_environment
from stages import train
from tests.conftest import PROJECT_ROOT, update_params, write_prepared

# several JAX processes joining a coordinator
pytestmark = pytest.mark.slow

# Everything a run writes; a process other than 0 must leave all of it absent.
OUTPUTS = ("data/models", "metrics")
# A whole run of two processes takes ~25 s here; this only bounds a hang.
RUN_LIMIT_SECONDS = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def project(directory: Path) -> Path:
    """A project with 64 synthetic training images, and lenet5 (a JAX variant) trained on all 64
    in each step: every step's batch is then the same in every run, however the data is shuffled."""
    directory.mkdir()
    shutil.copy(PROJECT_ROOT / "params.yaml", directory / "params.yaml")
    write_prepared(directory / "data" / "prepared", num_train=64, num_validation=32, num_test=10)
    update_params(
        directory / "params.yaml",
        {
            "variants.lenet5.batch_size": 64,
            "variants.lenet5.epochs": 4,
            "variants.lenet5.optimizer": {"name": "sgd", "learning_rate": 0.1},
        },
    )
    return directory


def start_train(directory: Path, **cluster_environment: str) -> subprocess.Popen:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KERAS_DISTRIBUTION_", "MNIST_JOIN", "KERAS_BACKEND"))
    }
    environment.update(cluster_environment, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "stages.train", "lenet5"],
        cwd=directory,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def member(port: int, process_id: int, num_processes: int = 2, timeout: int = 60) -> dict[str, str]:
    # JAX's coordinator (process 0) binds every interface by default; keep the test's on loopback.
    return {
        "JAX_COORDINATOR_BIND_ADDRESS": f"127.0.0.1:{port}",
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": str(num_processes),
        "KERAS_DISTRIBUTION_PROCESS_ID": str(process_id),
        "MNIST_JOIN_TIMEOUT": str(timeout),
    }


def finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=RUN_LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def weights(directory: Path) -> list[np.ndarray]:
    return keras.saving.load_model(directory / "data/models/lenet5.keras").get_weights()


def test_two_processes_train_one_model_and_only_process_0_writes(tmp_path: Path):
    # Each process in its own directory, as on two hosts, so what each one writes is told apart.
    hosts = [project(tmp_path / f"host{index}") for index in range(2)]
    alone = project(tmp_path / "alone")
    port = free_port()
    processes = [start_train(host, **member(port, index)) for index, host in enumerate(hosts)]
    results = [finish(process) for process in processes]
    for returncode, output in results:
        assert returncode == 0, output[-3000:]
    assert "process 0 of 2 (writes the outputs), data-parallel, global batch 64 = 2 x 32" in results[0][1]
    assert "process 1 of 2 (writes nothing)" in results[1][1]
    assert (hosts[0] / "data/models/lenet5.keras").exists()
    assert (hosts[0] / "metrics/training/lenet5/metrics.json").exists()
    assert not any((hosts[1] / output).exists() for output in OUTPUTS)

    # What process 0 would have learnt training on its own share alone (every other image).
    half = project(tmp_path / "half")
    with np.load(half / "data/prepared/train.npz") as arrays:
        np.savez(half / "data/prepared/train.npz", images=arrays["images"][0::2], labels=arrays["labels"][0::2])
    update_params(half / "params.yaml", {"variants.lenet5.batch_size": 32})
    for directory in (alone, half):
        returncode, output = finish(start_train(directory))
        assert returncode == 0, output[-3000:]
        assert "on 1 x cpu" in output

    # The same global batches, so the same model to float rounding; a process that trained on its
    # own share without the other would end elsewhere.
    together, single, own_share = weights(hosts[0]), weights(alone), weights(half)
    for one, two in zip(together, single, strict=True):
        np.testing.assert_allclose(one, two, atol=1e-5)
    assert max(float(np.abs(one - two).max()) for one, two in zip(together, own_share, strict=True)) > 1e-3


@pytest.mark.parametrize("present", [0, 1], ids=["coordinator-alone", "coordinator-missing"])
def test_a_process_whose_peers_never_join_fails_clearly_within_the_timeout(tmp_path: Path, present: int):
    host = project(tmp_path / "host")
    port = free_port()
    started = time.monotonic()
    returncode, output = finish(start_train(host, **member(port, present, timeout=3)))
    elapsed = time.monotonic() - started
    assert returncode != 0
    assert (
        f"process {present} of 2 could not join the others through the coordinator at 127.0.0.1:{port} "
        f"within 3 s (MNIST_JOIN_TIMEOUT); nothing was trained or written."
    ) in output
    assert "KERAS_DISTRIBUTION_PROCESS_ID 0 to 1" in output
    assert elapsed < 120  # the 3 s wait plus two starts of Python and the libraries, not JAX's 300 s
    assert not any((host / output).exists() for output in OUTPUTS)


def test_cluster_comes_from_keras_own_environment_variables():
    assert cluster_from_environment({}) is None
    assert cluster_from_environment({"KERAS_DISTRIBUTION_NUM_PROCESSES": "1"}) is None
    environment = {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:29500,10.0.0.2:29500",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": "1",
    }
    assert cluster_from_environment(environment) == Cluster("10.0.0.1:29500", 2, 1, 300)
    assert cluster_from_environment({**environment, "MNIST_JOIN_TIMEOUT": "30"}).join_timeout == 30


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"KERAS_DISTRIBUTION_PROCESS_ID": None}, "KERAS_DISTRIBUTION_PROCESS_ID is not set"),
        (
            {"KERAS_DISTRIBUTION_JOB_ADDRESSES": None, "KERAS_DISTRIBUTION_PROCESS_ID": None},
            "KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_PROCESS_ID are not set",
        ),
        ({"KERAS_DISTRIBUTION_PROCESS_ID": "2"}, "KERAS_DISTRIBUTION_PROCESS_ID=2 is outside 0..1"),
        ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, "KERAS_DISTRIBUTION_NUM_PROCESSES='two' is not a whole number"),
        ({"MNIST_JOIN_TIMEOUT": "0"}, "MNIST_JOIN_TIMEOUT=0: the join timeout must be at least 1 second"),
        ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1"}, "give process 0's address as host:port"),
    ],
)
def test_a_bad_cluster_environment_names_the_variable(changes: dict, message: str):
    environment = {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:29500",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": "0",
    }
    for name, value in changes.items():
        environment.pop(name) if value is None else environment.__setitem__(name, value)
    with pytest.raises(ValueError, match=message):
        cluster_from_environment(environment)


def test_several_processes_need_the_jax_backend(tiny_project: Path, monkeypatch: pytest.MonkeyPatch):
    assert keras.backend.backend() == "tensorflow"  # the suite's own process
    for name, value in member(free_port(), 0).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="chollet: training over several processes .* needs the JAX backend"):
        train.main("chollet")
    assert not any(Path(output).exists() for output in OUTPUTS)
