"""One trial of mnist-search through DVC: `dvc exp run --temp` of the variant's stages (its verbose
log read for what ran, what the run-cache restored and how long the stages took), the trial's
scores read from the experiment's commit, and its push to (or pull from) the remotes."""

import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mnist_zoo.config import SCORES_DIR

log = logging.getLogger("search")

LOGS_DIR = Path("search/logs")  # each trial's `dvc exp run -v` output, git-ignored


@dataclass
class DvcRun:
    """What one `dvc exp run` did, read from its verbose log."""

    returncode: int
    stages_run: list[str]
    stages_restored: list[str]
    stage_seconds: float
    log_tail: str


STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def read_dvc_log(text: str, returncode: int) -> DvcRun:
    """Which stages ran and which came from the run-cache, and how long the stages' own commands
    took: from the last timestamped line before "Running stage 'x'" to DVC's "Computed stage: 'x'"."""
    last_stamp, started, seconds, run, restored = None, {}, 0.0, [], []
    for line in text.splitlines():
        stamp = STAMP.match(line)
        if stamp:
            last_stamp = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
            computed = re.search(r"Computed stage: '([^']+)'", line)
            if computed and computed.group(1) in started:
                seconds += (last_stamp - started.pop(computed.group(1))).total_seconds()
        running = re.match(r"Running stage '([^']+)'", line)
        if running:
            run.append(running.group(1))
            if last_stamp is not None:
                started[running.group(1)] = last_stamp
        cached = re.search(r"Stage '([^']+)' is cached - skipping run", line)
        if cached:
            restored.append(cached.group(1))
    quiet = [line for line in text.splitlines() if not STAMP.match(line)]
    return DvcRun(returncode, run, restored, round(seconds, 2), "\n".join(quiet[-25:]))


def experiment_ref(name: str) -> str:
    baseline = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def read_scores(name: str, variant: str) -> dict[str, dict[str, float]]:
    """The experiment's metrics/scores/<variant>.json (a git file of its commit, as `dvc exp show`
    reads it): {"validation": {"accuracy": ..., "loss": ...}, "test": {...}}."""
    path = f"{experiment_ref(name)}:{(SCORES_DIR / f'{variant}.json').as_posix()}"
    scores = json.loads(subprocess.run(["git", "show", path], capture_output=True, text=True, check=True).stdout)
    return {split: figures[variant] for split, figures in scores.items()}


def dvc_command() -> str:
    """This environment's dvc (beside its Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.is_file() else "dvc"


def run_experiment(name: str, switches: list[str], target: str, log_path: Path, pull: bool = False) -> DvcRun:
    """`dvc exp run --temp` of the target, its verbose output in `log_path`; with `pull`, what the
    DVC remote holds (outputs, run-cache) is used instead of rerunning. On an interrupt the run is
    stopped too (DVC cleans its temporary copy), and the interrupt goes on."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        dvc_command(),
        "exp",
        "run",
        "-v",
        "--temp",
        *(["--pull"] if pull else []),
        "-n",
        name,
        *switches,
        target,
    ]
    with open(log_path, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            returncode = process.wait()
        except BaseException:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    return read_dvc_log(log_path.read_text(), returncode)


def push_experiment(name: str, git_remote: str, attempts: int = 3) -> None:
    """`dvc exp push --run-cache`: the experiment's ref to the git remote, its outputs and the record
    of its runs to the DVC remote, so any clone can list it and restore its stages."""
    command = [dvc_command(), "exp", "push", "--run-cache", git_remote, name]
    for attempt in range(1, attempts + 1):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0:
            return
        log.warning("%s: `dvc exp push` failed (attempt %d of %d): %s", name, attempt, attempts, result.stderr.strip())
        time.sleep(2 * attempt)
    raise TrialFailed(f"`dvc exp push {git_remote} {name}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def pull_experiments(names: list[str], git_remote: str) -> None:
    """`dvc exp pull` of the named experiments: their refs, and their outputs from the DVC remote."""
    if names:
        subprocess.run([dvc_command(), "exp", "pull", git_remote, *names], check=True, capture_output=True, text=True)


class TrialFailed(Exception):
    """A trial that could not give its objective: bad params or a failed run, with why."""
