"""A study shared by workers in separate clones, as on several machines: they meet only in a real
PostgreSQL server (Optuna's storage), a bare git repository (`origin`) and the loopback S3 server
(the DVC remote), all on 127.0.0.1. On the tiny real-MNIST profile, the flagship only."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

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
from tests.loopback_s3 import BUCKET, S3Server, s3_server
from tests.postgres_server import binaries, postgres_server

pytestmark = [
    pytest.mark.slow,  # real MNIST, `dvc exp run` and PostgreSQL
    pytest.mark.skipif(not REAL_DATA, reason=NEEDS_REAL_DATA),
    pytest.mark.skipif(binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"),
]
HEARTBEAT = 2  # seconds: a killed worker's trial is failed after four silent beats
SPACE = {"model.filters": {"choices": [3, 4, 5, 6]}}  # four trials


class Team:
    """The study's database, origin, the DVC remote, and the clones the workers run in."""

    def __init__(self, root: Path, storage: str, s3: S3Server) -> None:
        self.root, self.storage, self.s3 = root, storage, s3
        self.origin = root / "origin.git"
        self.remote_url = f"s3://{BUCKET}/{root.name}"

    def environment(self, **extra: str) -> dict[str, str]:
        """What a launcher gives a worker: the database and the remote, credentials included."""
        environ = dict(os.environ, **self.s3.environment(), AWS_MAX_ATTEMPTS="2") | resolved_mirrors()
        return environ | {
            "MNIST_SEARCH_STORAGE": self.storage,
            "DVC_REMOTE_URL": self.remote_url,
            "DVC_REMOTE_ENDPOINT_URL": self.s3.endpoint,
            "MNIST_SEARCH_HEARTBEAT": str(HEARTBEAT),
            "PYTHON": sys.executable,
            **extra,
        }

    def clone(self, name: str) -> Path:
        clone = self.root / name
        run(["git", "clone", "-q", str(self.origin), str(clone)], self.root)
        return clone

    def teammate(self, name: str) -> Path:
        """A clone set up as docs/sharing.md says: the DVC remote, its endpoint in the local config."""
        clone = self.clone(name)
        dvc(clone, "remote", "add", "--local", "-d", "storage", self.remote_url)
        dvc(clone, "remote", "modify", "--local", "storage", "endpointurl", self.s3.endpoint)
        return clone

    def worker(self, clone: Path, space: str) -> subprocess.Popen:
        """search/worker.sh, the command every launcher runs, in its own process group (a machine)."""
        return subprocess.Popen(
            ["search/worker.sh", space],
            cwd=clone,
            env=self.environment(),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def search(self, clone: Path, *arguments: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mnist_zoo.experiments.search", *arguments, "--storage", self.storage]
        return run(command, clone, env=self.environment())


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("workers")
    with postgres_server() as storage, s3_server(root / "moto.log") as s3:
        team = Team(root, storage, s3)
        run(["git", "init", "-q", "--bare", "-b", "main", str(team.origin)], root)
        project = copy_project(root / "project")
        update_params(project / "params.yaml", TINY_PROFILE | {"train.variants": {"flagship": "model"}})
        (project / "search" / "shared.yaml").write_text(
            yaml.safe_dump({"study": "shared", "variant": "flagship", "sampler": "grid", "space": SPACE})
        )
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-qm", "a shared study"], project)
        run(["git", "push", "-q", str(team.origin), "HEAD:main"], project)
        yield team


def wait_for_line(process: subprocess.Popen, text: str, timeout: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    for line in process.stderr:
        lines.append(line)
        if text in line:
            return lines
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError(f"{text!r} never came:\n{''.join(lines)}")


@pytest.fixture(scope="module")
def study(team: Team) -> dict:
    """Two workers on the study; the second is killed (its whole process group, as a machine dies)
    while its first trial trains. The first finishes the study, the dead worker's trial included."""
    first, second = team.clone("worker-1"), team.clone("worker-2")
    survivor = team.worker(first, "search/shared.yaml")
    wait_for_line(survivor, "trial 1 of 4", timeout=300)
    doomed = team.worker(second, "search/shared.yaml")
    try:
        wait_for_line(doomed, "trial", timeout=300)
        time.sleep(6)  # mid-trial: the trial's `dvc exp run` has started
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=60)
        started = time.monotonic()
        output = survivor.communicate(timeout=900)[1]
    finally:
        for process in (survivor, doomed):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert survivor.returncode == 0, output
    rows = json.loads(team.search(first, "show", "search/shared.yaml", "--json").stdout)
    return {"rows": rows, "output": output, "seconds_after_the_kill": time.monotonic() - started}


def test_a_killed_workers_trial_is_failed_by_its_heartbeat_and_run_again_by_the_other(study: dict):
    rows = study["rows"]
    completed = [row for row in rows if row["state"] == "COMPLETE"]
    assert sorted(row["params"]["model.filters"] for row in completed) == [3, 4, 5, 6], rows
    (killed,) = [row for row in rows if row["state"] == "FAIL"]
    assert killed["error"] is None  # not a failure of its own: a dead worker's
    assert any(row["params"] == killed["params"] and row["trial"] > killed["trial"] for row in completed)


def test_a_fresh_clone_pulls_and_lists_every_finished_trial_with_its_metrics(team: Team, study: dict):
    clone = team.teammate("reader")
    shown = team.search(clone, "show", "search/shared.yaml", "--pull", "origin").stdout
    completed = [row for row in study["rows"] if row["state"] == "COMPLETE"]
    for row in completed:
        assert row["experiment"] in shown
    shown = dvc(clone, "exp", "show", "--json", **team.s3.environment())
    records = {record["name"]: record for record in experiments_in(json.loads(shown))}
    for row in completed:
        scores = records[row["experiment"]]["metrics"]["metrics/scores/flagship.json"]["data"]
        assert scores["validation"]["flagship"]["accuracy"] == row["validation_accuracy"]
        assert (
            records[row["experiment"]]["params"]["params.yaml"]["data"]["model"]["filters"]
            == row["params"]["model.filters"]
        )


def test_a_trial_another_worker_ran_is_restored_from_the_remote_not_retrained(team: Team, study: dict):
    """A new worker, in a clone whose DVC cache is empty, on a study repeating a finished trial's
    params: its stages come from the remote's run-cache."""
    best = next(row for row in study["rows"] if row["state"] == "COMPLETE")
    clone = team.clone("late-worker")
    space = {
        "study": "again",
        "variant": "flagship",
        "sampler": "grid",
        "space": {"model.filters": [best["params"]["model.filters"]]},
    }
    (clone / "search" / "again.yaml").write_text(yaml.safe_dump(space))
    worker = team.worker(clone, "search/again.yaml")
    output = worker.communicate(timeout=600)[1]
    assert worker.returncode == 0, output
    (again,) = json.loads(team.search(clone, "show", "search/again.yaml", "--json").stdout)
    assert "train@flagship" in again["stages_restored"] and "train@flagship" not in again["stages_run"], again
    assert again["validation_accuracy"] == best["validation_accuracy"]
