"""bench/gpu_check, the zoo on a GPU, run here as its dry run on the CPU (JAX's CPU backend, tiny
data, one epoch each), so the check cannot rot while no GPU is at hand; and with a fake device
list, proof that it trains through the project's own code and records the GPU plan."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import gpu_check
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow  # trains the whole zoo (dry run)

# Runs the check in-process with JAX's devices presented as one H200 and mnist_zoo.training.trainer.fit
# counted: the plan it records must be the GPU plan, and every run must go through that fit.
ON_A_FAKE_GPU = """
import json, sys
from mnist_zoo import runtime
runtime.start("jax", override=True)  # as gpu_check.main does, before the imports below load Keras
from mnist_zoo.training import devices
from mnist_zoo.training import trainer
devices.visible_devices = lambda: devices.Devices("gpu", 1, True, "NVIDIA H200")
fits = []
real_fit = trainer.fit
def counting_fit(model, spec, *args, **kwargs):
    fits.append(spec["epochs"])
    return real_fit(model, spec, *args, **kwargs)
trainer.fit = counting_fit
from bench import gpu_check

gpu_check.main(sys.argv[1:])
print(json.dumps(fits))
"""


def environment(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # this venv's python3
    return {**{key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}, "PATH": path, **extra}


def test_the_dry_run_trains_and_scores_every_default_variant_on_the_cpu(tiny_project: Path):
    result = subprocess.run(
        [str(PROJECT_ROOT / "bench/gpu_check"), "--dry-run", "--output", "check.json"],
        cwd=tiny_project,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check = json.loads((tiny_project / "check.json").read_text())
    names = list(yaml.safe_load((tiny_project / "params.yaml").read_text())["train"]["variants"])
    assert [record["variant"] for record in check["variants"]] == names
    assert check["device"]["platform"] == "cpu" and check["dry_run"] is True
    assert check["versions"]["keras"] and check["versions"]["jax"] and check["images"]["train"] == 200
    for record in check["variants"] + check["flagship_precision"]:
        assert record["device_plan"].startswith("backend jax on 1 x cpu"), record  # JAX, whatever params say
        assert record["epochs_run"] == 1 and len(record["epoch_seconds"]) == 1
        assert 0.0 <= record["test_accuracy"] <= 1.0 and record["seconds_per_steady_epoch"] is None
    assert [record["precision"] for record in check["flagship_precision"]] == ["float32", "mixed_bfloat16"]


def test_on_a_gpu_it_records_the_gpu_plan_and_trains_through_the_projects_fit(tiny_project: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            ON_A_FAKE_GPU,
            "--dry-run",
            "--output",
            "check.json",
            "--variants",
            "lenet5",
            "flagship",
        ],
        cwd=tiny_project,
        env=environment(PYTHONPATH=str(PROJECT_ROOT)),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check = json.loads((tiny_project / "check.json").read_text())
    assert check["device"] == {"platform": "gpu", "count": 1, "name": "NVIDIA H200", "bfloat16": True}
    plans = {record["variant"]: record for record in check["variants"]}
    for record in check["variants"] + check["flagship_precision"]:
        assert "1 x gpu (NVIDIA H200)" in record["device_plan"] and "32 step(s) per execution" in record["device_plan"]
        assert "XLA kernels for the CPU" not in record["device_plan"]
    assert plans["flagship"]["precision"] == "mixed_bfloat16"  # its `precision: auto` on a bfloat16 GPU
    assert plans["lenet5"]["precision"] == "float32"  # the reference recipes stay float32
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [1, 1, 1, 1]  # 2 variants + 2 precisions


@pytest.mark.parametrize("epochs, fraction, expected", [(50, 0.5, 25), (5, 0.5, 3), (12, 0.1, 2), (20, 1.0, 20)])
def test_each_recipe_gets_its_share_of_epochs_and_at_least_two(epochs, fraction, expected):
    assert gpu_check.epochs_for(epochs, fraction, dry_run=False) == expected
    assert gpu_check.epochs_for(epochs, fraction, dry_run=True) == 1


def test_steady_state_timing_leaves_out_the_compiling_first_epoch():
    figures = gpu_check.timing([9.0, 2.0, 2.2, 1.8], num_images=1000)
    assert figures == {
        "seconds_per_steady_epoch": 2.0,
        "images_per_second": 500.0,
        "compile_seconds": 7.0,
        "first_epoch_seconds": 9.0,
    }
    assert gpu_check.timing([3.0], 10)["seconds_per_steady_epoch"] is None
