"""mnist-search end to end: Optuna studies whose trials are DVC experiments of a throwaway copy of
the project on a tiny real-MNIST profile (the flagship only, one epoch on 400 images)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from PIL import Image

from bench.search_overhead import overhead
from tests.conftest import (
    NEEDS_REAL_DATA,
    REAL_DATA,
    TINY_PROFILE,
    copy_project,
    dvc,
    experiments_in,
    resolved_mirrors,
    run,
    update_params,
)

# real MNIST and `dvc exp run`
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not REAL_DATA, reason=NEEDS_REAL_DATA)]
STORAGE = "sqlite:///search/studies.db"
# Two widths, a valid dropout and one the schema refuses (it must be below 1): four trials, two of
# which fail before DVC starts anything. The valid dropout is not params.yaml's 0.25, which the other
# studies here keep: a trial of theirs with the same width would put the grid's in the run-cache
# first (CI's shuffled order, seed 3066819825, ran `clash` first).
GRID = {"model.filters": {"choices": [4, 6]}, "model.dropout": {"choices": [0.2, 1.5]}}


def environment() -> dict[str, str]:
    return dict(os.environ) | resolved_mirrors()


def write_space(repo: Path, study: str, space: dict, **settings: object) -> Path:
    path = repo / "search" / f"{study}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"study": study, "variant": "flagship", **settings, "space": space}))
    return path.relative_to(repo)


def search(repo: Path, *arguments: str) -> subprocess.CompletedProcess:
    """mnist-search in `repo` (the copy's own package, as the stages run it)."""
    command = [sys.executable, "-m", "mnist_zoo.experiments.search", *arguments, "--storage", STORAGE]
    return run(command, repo, env=environment())


def trials(repo: Path, study: str) -> list[dict]:
    return json.loads(search(repo, "show", f"search/{study}.yaml", "--json").stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("search"))
    update_params(repo / "params.yaml", TINY_PROFILE | {"train.variants": {"flagship": "model"}})
    run(["git", "commit", "-qam", "tiny profile"], repo)
    return repo


@pytest.fixture(scope="module")
def grid_study(project: Path) -> list[dict]:
    space = write_space(project, "grid", GRID, sampler="grid", seed=1)
    result = search(project, "run", str(space))
    assert "failed: params refused by the schema" in result.stderr, result.stderr
    return trials(project, "grid")


def test_every_trial_is_a_dvc_experiment_with_its_own_params_and_metrics(project: Path, grid_study: list[dict]):
    assert len(grid_study) == 4
    completed = [row for row in grid_study if row["state"] == "COMPLETE"]
    failed = [row for row in grid_study if row["state"] == "FAIL"]
    assert {row["params"]["model.dropout"] for row in completed} == {0.2}
    assert {row["params"]["model.dropout"] for row in failed} == {1.5}
    assert all("model.dropout" in row["error"] and row["experiment"] for row in failed)
    assert completed[0]["validation_accuracy"] >= completed[1]["validation_accuracy"]  # the best first
    assert all(
        set(row["stages_run"]) >= {"train@flagship", "evaluate@flagship", "scores@flagship"} for row in completed
    )
    # Each trial's time split into its stages' own (from DVC's log) and the rest, what the bench reports.
    assert all(0 < row["stage_seconds"] < row["wall_seconds"] for row in completed)
    bench = overhead(grid_study)  # bench/search_overhead.py: the trials that ran DVC, not the refused ones
    assert [row["experiment"] for row in bench["trials"]] == sorted(row["experiment"] for row in completed)
    assert bench["min_overhead_seconds"] <= bench["median_overhead_seconds"] <= bench["max_overhead_seconds"]

    records = {record["name"]: record for record in experiments_in(json.loads(dvc(project, "exp", "show", "--json")))}
    for row in completed:
        record = records[row["experiment"]]
        assert record["params"]["params.yaml"]["data"]["model"]["filters"] == row["params"]["model.filters"]
        scores = record["metrics"]["metrics/scores/flagship.json"]["data"]
        assert scores["validation"]["flagship"]["accuracy"] == row["validation_accuracy"]
        assert scores["test"]["flagship"]["accuracy"] == row["test_accuracy"]
    for row in failed:  # refused before DVC ran anything: no experiment of that name
        assert row["experiment"] not in records
    assert open_workspace_untouched(project)
    # The study's picture and table, as `mnist-search show` writes them.
    written = json.loads((project / "results/search/grid.json").read_text())
    assert [row["experiment"] for row in written["trials"]] == [row["experiment"] for row in grid_study]
    with Image.open(project / "results/search/grid.png") as picture:
        assert picture.width > picture.height > 300

    first, second = (row["experiment"] for row in completed)
    diff = json.loads(dvc(project, "exp", "diff", first, second, "--json"))
    assert "model.filters" in diff["params"]["params.yaml"]
    # The per-epoch curves are DVC plots: `dvc plots diff` draws both trials' curves.
    plots = json.loads(dvc(project, "plots", "diff", first, second, "--json"))["data"]
    curves = [name for name in plots if name.startswith("metrics/training/flagship/plots/metrics")]
    assert any(name.endswith("eval/accuracy.tsv") for name in curves), sorted(plots)
    revisions = {
        point.get("rev") for name in curves for point in plots[name][0]["content"].get("data", {}).get("values", [])
    }
    assert {first, second} <= revisions, revisions


def open_workspace_untouched(repo: Path) -> bool:
    """The trials ran in temporary copies: the workspace's tracked files are as committed."""
    return run(["git", "status", "--porcelain", "--untracked-files=no"], repo).stdout.strip() == ""


def test_a_trial_repeating_another_is_restored_from_the_run_cache(project: Path, grid_study: list[dict]):
    best = grid_study[0]
    space = write_space(
        project, "again", {key: {"choices": [value]} for key, value in best["params"].items()}, sampler="grid"
    )
    search(project, "run", str(space))
    (again,) = trials(project, "again")
    assert again["state"] == "COMPLETE"
    assert {"train@flagship", "evaluate@flagship"} <= set(again["stages_restored"])
    assert again["stages_run"] == []
    assert again["validation_accuracy"] == best["validation_accuracy"]


def test_a_failed_run_is_recorded_with_its_error_and_the_study_goes_on(project: Path):
    # An experiment of the first trial's name already exists: `dvc exp run -n` refuses to overwrite it.
    head = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    run(["git", "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/clash-000", head], project)
    space = write_space(project, "clash", {"model.filters": {"choices": [4, 6]}}, sampler="grid", trials=2)
    search(project, "run", str(space))
    rows = {row["trial"]: row for row in trials(project, "clash")}
    assert rows[0]["state"] == "FAIL" and "clash-000" in rows[0]["error"] and "`dvc exp run` failed" in rows[0]["error"]
    assert rows[1]["state"] == "COMPLETE" and rows[1]["validation_accuracy"] > 0.1


def test_an_interrupted_study_resumes_where_it_stopped(project: Path):
    space = write_space(project, "resume", {"model.filters": {"low": 3, "high": 8}}, trials=3, seed=3)
    command = [sys.executable, "-m", "mnist_zoo.experiments.search", "run", str(space), "--storage", STORAGE]
    process = subprocess.Popen(command, cwd=project, env=environment(), stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 600
    try:
        for line in process.stderr:  # interrupt while the second trial trains
            lines.append(line)
            if "trial 2 of 3" in line:
                time.sleep(8)
                process.send_signal(signal.SIGTERM)
                break
            assert time.monotonic() < deadline, "".join(lines)
        assert process.wait(timeout=120) == 130, "".join(lines) + process.stderr.read()
    finally:
        process.kill()
    before = trials(project, "resume")
    assert [row["state"] for row in before].count("COMPLETE") == 1
    (interrupted,) = [row for row in before if row["state"] == "FAIL"]
    assert interrupted["error"] is None

    result = search(project, "run", str(space))
    assert "resuming, 1 of 3 trials done, 1 interrupted one(s) queued again" in result.stderr, result.stderr
    after = trials(project, "resume")
    assert [row["state"] for row in after].count("COMPLETE") == 3
    retry = next(row for row in after if row["state"] == "COMPLETE" and row["params"] == interrupted["params"])
    assert retry["trial"] > interrupted["trial"]


def test_a_study_whose_test_set_is_noise_chooses_exactly_as_before(
    project: Path, grid_study: list[dict], tmp_path: Path
):
    """The same study in a clone whose preprocess replaces the test images and labels by noise
    (sharing the first clone's DVC cache, so the models come from the run-cache): the objective of
    every trial and the chosen trial are the same; only the test accuracies, reported, differ."""
    clone = tmp_path / "noisy"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    dvc(clone, "cache", "dir", "--local", str(project / ".dvc" / "cache"))
    (clone / "noise.py").write_text(
        "import numpy as np\n"
        "path = 'data/prepared/test.npz'\n"
        "with np.load(path) as arrays:\n"
        "    arrays = dict(arrays)\n"
        "images, labels = arrays['images'], arrays['labels']\n"
        "rng = np.random.default_rng(0)\n"
        "arrays['images'] = rng.integers(0, 256, images.shape).astype(images.dtype)\n"
        "arrays['labels'] = rng.integers(0, 10, labels.shape).astype(labels.dtype)\n"
        "np.savez(path, **arrays)\n"
    )
    pipeline = yaml.safe_load((clone / "dvc.yaml").read_text())
    pipeline["stages"]["preprocess"]["cmd"] += " && python noise.py"
    (clone / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    write_space(clone, "grid", GRID, sampler="grid", seed=1)
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "the test set is noise"], clone)
    search(clone, "run", "search/grid.yaml")
    noisy = trials(clone, "grid")

    def choices(rows: list[dict]) -> list[tuple]:
        return [(row["params"], row["state"], row["validation_accuracy"]) for row in rows]

    assert choices(noisy) == choices(grid_study)
    assert noisy[0]["experiment"] == grid_study[0]["experiment"]  # the chosen trial
    completed = [row for row in noisy if row["state"] == "COMPLETE"]
    assert all(set(row["stages_restored"]) >= {"train@flagship"} for row in completed)
    clean = {row["experiment"]: row["test_accuracy"] for row in grid_study if row["state"] == "COMPLETE"}
    for row in completed:
        # Scored on the noise (about chance), not on the MNIST test images the clean study scored on.
        assert row["test_accuracy"] != clean[row["experiment"]] and row["test_accuracy"] < 0.2


def test_optuna_dashboard_reads_the_same_storage(project: Path, grid_study: list[dict]):
    """The optional dashboard (pyproject's `dashboard` extra), served on 127.0.0.1, lists the
    study's trials with the objective mnist-search stored."""
    pytest.importorskip("optuna_dashboard")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("optuna-dashboard")), STORAGE, "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    studies = json.load(response)["study_summaries"]
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "optuna-dashboard did not start"
                time.sleep(0.5)
        (study,) = [study for study in studies if study["study_name"] == "grid"]
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/studies/{study['study_id']}?after=0", timeout=10
        ) as response:
            shown = json.load(response)["trials"]
        values = {trial["number"]: trial.get("values") for trial in shown}
        for row in grid_study:
            assert values[row["trial"]] == (
                None if row["validation_accuracy"] is None else [row["validation_accuracy"]]
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
