"""A shared study's wall time with one worker and with two, side by side on this machine, and what
the database and the remotes cost per trial: the same study (the tiny real-MNIST profile, the
flagship only, a grid of `--trials` widths) run by `search/worker.sh` in fresh clones against a real
PostgreSQL server and the loopback S3 server on 127.0.0.1, as tests/test_search_workers.py runs it.

Run: `MNIST_MIRROR=... python -m bench.search_workers --trials 6`; needs Debian's postgresql and
moto (requirements.txt). Prints a table and writes bench/results/search_workers.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mnist_zoo.files import write_json
from tests.conftest import TINY_PROFILE, copy_project, resolved_mirrors, run, update_params
from tests.loopback_s3 import BUCKET, s3_server
from tests.postgres_server import postgres_server

RESULTS = Path("bench/results/search_workers.json")


def study(root: Path, storage: str, s3, workers: int, trials: int, name: str) -> dict:
    """One study of `trials` widths run by `workers` workers; its wall time and per-trial costs."""
    origin = root / f"{name}.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], root)
    project = copy_project(root / f"{name}-project")
    update_params(project / "params.yaml", TINY_PROFILE | {"train.variants": {"flagship": "model"}})
    space = {
        "study": name,
        "variant": "flagship",
        "sampler": "grid",
        "space": {"model.filters": list(range(3, 3 + trials))},
    }
    (project / "search" / f"{name}.yaml").write_text(yaml.safe_dump(space))
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", name], project)
    run(["git", "push", "-q", str(origin), "HEAD:main"], project)
    environ = dict(os.environ, **s3.environment(), MNIST_SEARCH_STORAGE=storage, PYTHON=sys.executable)
    environ |= {"DVC_REMOTE_URL": f"s3://{BUCKET}/{name}", "DVC_REMOTE_ENDPOINT_URL": s3.endpoint}
    environ |= resolved_mirrors()
    clones = []
    for index in range(workers):
        clone = root / f"{name}-worker-{index}"
        run(["git", "clone", "-q", str(origin), str(clone)], root)
        clones.append(clone)
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            ["search/worker.sh", f"search/{name}.yaml"], cwd=clone, env=environ, stderr=subprocess.PIPE, text=True
        )
        for clone in clones
    ]
    for process in processes:
        output = process.communicate()[1]
        if process.returncode:
            raise SystemExit(output)
    wall = time.monotonic() - started
    shown = run(
        [
            sys.executable,
            "-m",
            "mnist_zoo.experiments.search",
            "show",
            f"search/{name}.yaml",
            "--json",
            "--storage",
            storage,
        ],
        clones[0],
        env=environ,
    )
    rows = [row for row in json.loads(shown.stdout) if row["state"] == "COMPLETE"]
    return {
        "workers": workers,
        "trials": len(rows),
        "wall_seconds": round(wall, 1),
        "median_trial_seconds": statistics.median(row["wall_seconds"] for row in rows),
        "median_stage_seconds": statistics.median(row["stage_seconds"] for row in rows),
        "median_overhead_seconds": statistics.median(row["overhead_seconds"] for row in rows),
        "median_push_seconds": statistics.median(row["push_seconds"] for row in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=6)
    arguments = parser.parse_args()
    results = []
    with (
        tempfile.TemporaryDirectory() as directory,
        postgres_server() as storage,
        s3_server(Path(directory) / "moto.log") as s3,
    ):
        for workers in (1, 2):
            results.append(study(Path(directory), storage, s3, workers, arguments.trials, f"workers-{workers}"))
            print(results[-1], flush=True)
    write_json(RESULTS, {"trials": arguments.trials, "runs": results})


if __name__ == "__main__":
    main()
