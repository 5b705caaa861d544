"""bench.train_speed: the arithmetic of its table, and a real (tiny) run of both paths, each in a
process with the backend it should have."""

from pathlib import Path

import pytest

from bench import train_speed
from tests.conftest import PROJECT_ROOT


def test_steady_epoch_time_leaves_out_the_compiling_first_epoch():
    assert train_speed.steady_epoch_seconds([30.0, 10.0, 12.0, 11.0]) == 11.0
    assert train_speed.steady_epoch_seconds([7.0]) == 7.0
    with pytest.raises(ValueError, match="No epochs"):
        train_speed.steady_epoch_seconds([])


def test_seconds_to_accuracy_is_the_first_epoch_at_the_target():
    history = [{"epoch": 1, "seconds": 20.0, "test_accuracy": 0.985},
               {"epoch": 2, "seconds": 41.0, "test_accuracy": 0.991},
               {"epoch": 3, "seconds": 60.0, "test_accuracy": 0.990}]
    assert train_speed.seconds_to_accuracy(history, 0.99) == 41.0
    assert train_speed.seconds_to_accuracy(history, 0.995) is None
    table = train_speed.format_accuracy_table({"run": history})
    assert "| run | 41 | not reached | 99.10% (2, 41 s) |" in table


def test_speed_row_ratio_and_throughput():
    row = train_speed.speed_row("lenet5", 1000, plain=[9.0, 4.0, 6.0], project=[5.0, 2.0, 3.0])
    assert row["plain_s_per_epoch"] == 5.0 and row["project_s_per_epoch"] == 2.5
    assert row["ratio"] == 0.5 and row["project_images_per_s"] == 400.0
    assert "| lenet5 | 5.00 | 2.50 (jax) | 200 | 400 | 0.50 |" in train_speed.format_speed_table(
        [row], {"lenet5": "jax"})


def test_benchmark_runs_both_paths_on_the_backends_they_ask_for(tiny_project: Path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    plain = train_speed.run_worker("plain", "lenet5", 2, 0, False)
    project = train_speed.run_worker("project", "lenet5", 2, 0, False)
    assert plain["backend"] == "tensorflow"  # the posts' way, whatever the variant asks for
    assert project["backend"] == "jax"  # lenet5's `backend` param
    assert plain["images"] == project["images"] == 200
    assert len(plain["epoch_seconds"]) == len(project["epoch_seconds"]) == 2
    history = train_speed.run_worker("project", "lenet5", None, 0, True)["history"]
    assert [epoch["epoch"] for epoch in history] == [1, 2]  # tiny_project's recipes run 2 epochs
    assert history[1]["seconds"] > history[0]["seconds"] > 0
    assert all(0.0 <= epoch["test_accuracy"] <= 1.0 for epoch in history)


def test_missing_data_says_which_stage_to_run(in_tmp_project: Path):
    with pytest.raises(SystemExit, match="run `dvc repro preprocess` first"):
        train_speed.main(["lenet5"], epochs=2, images=0, accuracy_run=False)

