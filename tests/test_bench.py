"""bench.train_speed: the arithmetic of its table, and a real (tiny) run of both paths, each in a
process with the backend it should have."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import train_speed
from tests.conftest import PROJECT_ROOT


def test_steady_epoch_time_leaves_out_the_compiling_first_epoch():
    assert train_speed.steady_epoch_seconds([30.0, 10.0, 12.0, 11.0]) == 11.0
    assert train_speed.steady_epoch_seconds([7.0]) == 7.0
    with pytest.raises(ValueError, match="No epochs"):
        train_speed.steady_epoch_seconds([])


def test_seconds_to_accuracy_is_the_first_epoch_at_the_target():
    history = [
        {"epoch": 1, "seconds": 20.0, "test_accuracy": 0.985},
        {"epoch": 2, "seconds": 41.0, "test_accuracy": 0.991},
        {"epoch": 3, "seconds": 60.0, "test_accuracy": 0.990},
    ]
    assert train_speed.seconds_to_accuracy(history, 0.99) == 41.0
    assert train_speed.seconds_to_accuracy(history, 0.995) is None
    table = train_speed.format_accuracy_table({"run": history})
    assert "| run | 41 | not reached | 99.10% (2, 41 s) |" in table


def test_speed_row_ratio_throughput_and_arithmetic_rate():
    row = train_speed.speed_row("lenet5", 1000, 2_000_000, baseline=[9.0, 4.0, 6.0], project=[5.0, 2.0, 3.0])
    assert row["baseline_s_per_epoch"] == 5.0 and row["project_s_per_epoch"] == 2.5
    assert row["ratio"] == 0.5 and row["project_images_per_s"] == 400.0
    assert row["baseline_gflops"] == pytest.approx(0.4) and row["project_gflops"] == pytest.approx(0.8)
    assert (
        "| lenet5 | 2.0 | 5.00 | 2.50 (jax) | 200 | 400 | 0 (25%) | 1 (50%) | 0.50 |"
        in train_speed.format_speed_table([row], {"lenet5": "jax"}, ceiling_gflops=1.6)
    )


def test_training_arithmetic_counts_every_conv_and_dense_multiply_add():
    from bench import measure
    from mnist_zoo.models.families import build_model
    from mnist_zoo.params import load_params, variant_spec

    params = load_params(PROJECT_ROOT / "params.yaml")
    lenet5_forward = 2 * (
        24 * 24 * 6 * 5 * 5 * 1  # conv 6@5x5 on 28x28 -> 24x24
        + 8 * 8 * 16 * 5 * 5 * 6  # conv 16@5x5 on 12x12 -> 8x8
        + 256 * 120
        + 120 * 84
        + 84 * 10
    )
    mlp_forward = 2 * (784 * 500 + 500 * 500 + 500 * 500 + 500 * 10)
    assert measure.training_flops_per_image(build_model(variant_spec(params, "lenet5"))) == 3 * lenet5_forward
    assert measure.training_flops_per_image(build_model(variant_spec(params, "mlp_tanh"))) == 3 * mlp_forward


@pytest.mark.slow
def test_benchmark_runs_every_path_on_the_backends_they_ask_for(tiny_project: Path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    plain = train_speed.run_worker("plain", "lenet5", 2, 0, False)
    project = train_speed.run_worker("project", "lenet5", 2, 0, False)
    assert plain["backend"] == "tensorflow"  # the posts' way, whatever the variant asks for
    assert project["backend"] == "jax"  # lenet5's `backend` param
    assert plain["images"] == project["images"] == 200
    assert plain["training_flops_per_image"] == project["training_flops_per_image"] == 1_689_840
    assert len(plain["epoch_seconds"]) == len(project["epoch_seconds"]) == 2
    landed = train_speed.run_worker("landed", "lenet5", 2, 0, False)  # the same path, Keras' own epoch loop
    assert landed["backend"] == "jax" and len(landed["epoch_seconds"]) == 2
    history = train_speed.run_worker("project", "lenet5", None, 0, True)["history"]
    assert [epoch["epoch"] for epoch in history] == [1, 2]  # tiny_project's recipes run 2 epochs
    assert history[1]["seconds"] > history[0]["seconds"] > 0
    assert all(0.0 <= epoch["test_accuracy"] <= 1.0 for epoch in history)


@pytest.mark.slow
def test_the_matmul_ceiling_is_measured_on_the_plain_paths_backend(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # the shell's choice must not move the ceiling
    result = train_speed.run_worker("matmul")
    assert result["backend"] == "tensorflow" and result["matmul_gflops"] > 1.0


def test_missing_data_says_which_stage_to_run(in_tmp_project: Path):
    with pytest.raises(SystemExit, match="run `dvc repro preprocess` first"):
        train_speed.main(["lenet5"], epochs=2, images=0, accuracy_run=False)


def test_inference_speed_table_has_both_runtimes_at_both_batch_sizes():
    from bench import inference_speed

    rates = {("keras", 1): 500.0, ("onnx", 1): 5000.0, ("keras", 256): 20000.0, ("onnx", 256): 30000.0}
    table = inference_speed.format_table({"lenet5": rates})
    assert "| lenet5 | 500 | 5,000 | 10.0x | 20,000 | 30,000 | 1.5x |" in table


def test_inference_speed_times_each_runtime_on_its_batches():
    from bench import inference_speed

    seen = {"a": [], "b": []}
    classifiers = {name: (lambda batch, name=name: seen[name].append(len(batch))) for name in seen}
    rates = inference_speed.measure(classifiers, np.zeros((256, 28, 28, 1), np.float32), seconds=0.01)
    assert set(rates) == {(name, size) for name in seen for size in (1, 256)}
    assert all(rate > 0 for rate in rates.values())
    assert set(seen["a"]) == set(seen["b"]) == {1, 256}


def test_stage_costs_counts_only_top_level_imports_and_lists_every_non_training_stage():
    from bench import stage_costs

    report = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 | zipimport",
            "import time:       200 |     500000 |     numpy.core",  # inside numpy: counted in numpy's
            "import time:       300 |    1500000 | numpy",
            "import time:        50 |    2000000 | keras",
            "some stage output",
        ]
    )
    assert stage_costs.import_seconds(report) == pytest.approx(3.5001)
    commands = stage_costs.stage_commands("lenet5", PROJECT_ROOT)
    assert commands["evaluate@lenet5"] == "python -m stages.evaluate lenet5"
    assert {"preprocess", "report", "site", "export@lenet5", "robustness@lenet5", "corrupt"} <= commands.keys()
    assert not any(name.startswith(("train", "fetch", "features")) for name in commands)


def test_stage_costs_times_a_revision_beside_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """--before REV: REV's files in a worktree, its DVC outputs from this project's cache, gone after;
    the table puts each stage's before and now side by side (a stage one side lacks: dashes)."""
    from bench import stage_costs

    def sh(*command: str) -> None:
        subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)

    monkeypatch.chdir(tmp_path)
    sh("git", "init", "-q")
    sh("git", "config", "user.email", "t@example.com")
    sh("git", "config", "user.name", "t")
    sh(str(Path(sys.executable).with_name("dvc")), "init", "-q")
    (tmp_path / "stage.py").write_text("VERSION = 1\n")
    (tmp_path / "data.bin").write_bytes(b"the old inputs")
    sh(str(Path(sys.executable).with_name("dvc")), "add", "-q", "data.bin")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "before")
    (tmp_path / "stage.py").write_text("VERSION = 2\n")
    (tmp_path / "data.bin").write_bytes(b"new inputs")
    sh(str(Path(sys.executable).with_name("dvc")), "add", "-q", "data.bin")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    with stage_costs.checked_out("HEAD") as tree:
        assert (tree / "stage.py").read_text() == "VERSION = 1\n"
        assert (tree / "data.bin").read_bytes() == b"the old inputs"
        assert (tmp_path / "stage.py").read_text() == "VERSION = 2\n"
    assert not tree.exists()
    assert "before" not in subprocess.run(["git", "worktree", "list"], capture_output=True, text=True).stdout

    table = stage_costs.cost_table([("evaluate@x", (15.0, 6.0), (5.0, 1.0)), ("new", None, (2.0, 1.0))], True)
    lines = table.splitlines()
    assert lines[0].startswith("| Stage | Before: Wall s |") and "| Now: Wall s |" in lines[0]
    assert lines[2] == "| `evaluate@x` | 15.0 | 6.0 | 9.0 | 40% | 5.0 | 1.0 | 4.0 | 20% |"
    assert lines[3] == "| `new` | - | - | - | - | 2.0 | 1.0 | 1.0 | 50% |"
    assert lines[4] == "| all 2 | 15.0 | 6.0 | 9.0 | 40% | 7.0 | 2.0 | 5.0 | 29% |"
