"""A search over params.yaml keys with Optuna, every trial a named DVC experiment.

The space is data (search/*.yaml): the keys to vary and their ranges, the variant they train, an
optional profile of params every trial sets, the number of trials and the sampler (Optuna's TPE, or
its grid sampler). Each trial is `dvc exp run --temp -n <study>-<n> -S key=value ... scores@<variant>`:
the pipeline's own stages in a temporary copy of the repository, so the workspace is left alone, a
stage whose code, params and data were run before is restored from DVC's run-cache instead of rerun,
and only the variant the params touch is trained. Its objective is the model's validation accuracy
(metrics/scores/<variant>.json, from evaluate): the test set is never used to choose; the best
trials' test accuracy is read after the study, to report.

Optuna's storage holds the study (an SQLite file beside the repository by default, or any URL Optuna
takes, e.g. a shared PostgreSQL database), so a study interrupted resumes where it stopped.
"""

import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from mnist_zoo.config import PARAMS_PATH, SCORES_DIR
from mnist_zoo.experiments.profiles import apply_profile, load_profile

log = logging.getLogger("search")

# The embedded default: a file beside the project's code (git-ignored), nothing to start.
DEFAULT_STORAGE = "sqlite:///search/studies.db"
RESULTS_DIR = Path("results/search")  # each study's picture and table, written by `show` and `run`
LOGS_DIR = Path("search/logs")  # each trial's `dvc exp run -v` output, git-ignored
SAMPLERS = ("tpe", "grid")
# What a trial's objective is: the kept model's accuracy on the validation split.
OBJECTIVE = "validation accuracy"
# Each worker beats this often in a relational storage; one silent for four beats is taken for dead,
# and its trial is failed and queued again for another worker.
HEARTBEAT_SECONDS = 30


@dataclass
class Dimension:
    """One params.yaml key and its range: `choices`, or `low`..`high` (with `step` or `log`)."""

    key: str
    choices: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def is_int(self) -> bool:
        values = (self.low, self.high) + (() if self.step is None else (self.step,))
        return all(isinstance(value, int) and not isinstance(value, bool) for value in values)

    def grid(self) -> list[Any]:
        """Every value the grid sampler tries: the choices, or low..high by step."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None:
            raise ValueError(
                f"space key {self.key!r}: the grid sampler needs `choices` or a `step` for "
                f"{self.low}..{self.high}, e.g. {{low: {self.low}, high: {self.high}, step: ...}}."
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        values = [self.low + index * self.step for index in range(count)]
        return values if self.is_int else [round(value, 12) for value in values]

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.is_int:
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


@dataclass
class Space:
    """A search, as its file declares it (see search/flagship.yaml)."""

    study: str
    variant: str
    dimensions: list[Dimension]
    trials: int
    sampler: str = "tpe"
    seed: int = 0
    profile: dict[str, Any] = field(default_factory=dict)

    def experiment_name(self, number: int) -> str:
        return f"{self.study}-{number:03d}"


def load_space(path: Path, params: dict[str, Any], **overrides: Any) -> Space:
    """Read and check a space file against `params` (params.yaml): every key must exist there, the
    variant must be one `dvc repro` trains, and the profile must pass the schema. `overrides` (the
    command line's study, trials, sampler) replace the file's."""
    text = yaml.safe_load(path.read_text())
    if isinstance(text, dict):
        text.update({key: value for key, value in overrides.items() if value is not None})
    if not isinstance(text, dict) or not isinstance(text.get("space"), dict) or not text["space"]:
        raise ValueError(
            f"{path}: expected a mapping with `space:` (params keys and their ranges), e.g. search/flagship.yaml."
        )
    unknown = set(text) - {"study", "variant", "trials", "sampler", "seed", "profile", "space"}
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {sorted(unknown)}; allowed: study, variant, trials, sampler, seed, profile, space."
        )
    dimensions = [dimension(path, key, value) for key, value in text["space"].items()]
    for item in dimensions:
        lookup(params, item.key, path)
    profile = text.get("profile") or {}
    if isinstance(profile, str):  # a profile file, relative to the project root
        profile = load_profile(Path(profile))
    try:
        apply_profile(params, profile)
    except ValueError as error:
        raise ValueError(f"{path}: its profile: {error}") from None
    variants = params["train"]["variants"]
    variant = text.get("variant") or owner(params, [item.key for item in dimensions], path)
    if variant not in variants:
        raise ValueError(f"{path}: variant {variant!r} is not in params.yaml's train.variants {sorted(variants)}.")
    sampler = text.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise ValueError(f"{path}: sampler {sampler!r}; allowed: {list(SAMPLERS)}.")
    if sampler == "grid":
        try:
            text.setdefault("trials", grid_size(dimensions))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    trials = text.get("trials")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ValueError(f"{path}: trials {trials!r}; expected a whole number >= 1, e.g. `trials: 24`.")
    study = str(text.get("study") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", study):
        raise ValueError(f"{path}: study {study!r}: letters, digits, '-' and '_' only (it names DVC experiments).")
    return Space(study, variant, dimensions, trials, sampler, int(text.get("seed", 0)), profile)


def dimension(path: Path, key: str, value: Any) -> Dimension:
    if isinstance(value, list):
        value = {"choices": value}
    if not isinstance(value, dict) or not ({"choices"} <= set(value) or {"low", "high"} <= set(value)):
        raise ValueError(
            f"{path}: space key {key!r}: expected {{choices: [...]}} or {{low: ..., high: ...}} "
            f"(optionally step: or log: true), got {value!r}."
        )
    unknown = set(value) - {"choices", "low", "high", "step", "log"}
    if unknown:
        raise ValueError(f"{path}: space key {key!r}: unknown field(s) {sorted(unknown)}.")
    item = Dimension(key, **value)
    if item.choices is None and not (
        all(isinstance(bound, int | float) and not isinstance(bound, bool) for bound in (item.low, item.high))
        and item.low < item.high
    ):
        raise ValueError(f"{path}: space key {key!r}: low {item.low!r} must be a number below high {item.high!r}.")
    if item.choices is not None and not item.choices:
        raise ValueError(f"{path}: space key {key!r}: `choices` is empty.")
    return item


def grid_size(dimensions: list[Dimension]) -> int:
    return math.prod(len(item.grid()) for item in dimensions)


def lookup(params: dict[str, Any], dotted: str, path: Path) -> Any:
    section: Any = params
    for part in dotted.split("."):
        if not isinstance(section, dict) or part not in section:
            raise ValueError(f"{path}: space key {dotted!r} is not in params.yaml (no {part!r} there).")
        section = section[part]
    return section


def owner(params: dict[str, Any], keys: list[str], path: Path) -> str:
    """The one variant whose params section holds every key (e.g. model.* -> flagship)."""
    owners = set()
    for key in keys:
        found = [name for name, section in params["train"]["variants"].items() if key.startswith(section + ".")]
        if not found:
            raise ValueError(
                f"{path}: space key {key!r} lies in no variant's section: name the variant (`variant: flagship`)."
            )
        owners.update(found)
    if len(owners) > 1:
        raise ValueError(
            f"{path}: the space touches variants {sorted(owners)}; a study trains one: name it (`variant:`)."
        )
    return owners.pop()


def switch(key: str, value: Any) -> str:
    """`key=value` as `dvc exp run -S` takes it: JSON, which YAML reads back as the same value (a
    float always with its point, so PyYAML reads 1.0e-05 as a number, not a string)."""
    text = json.dumps(value)
    if isinstance(value, float) and "e" in text and "." not in text.split("e")[0]:
        text = text.replace("e", ".0e")
    return f"{key}={text}"


def storage_for(url: str, heartbeat: int = HEARTBEAT_SECONDS) -> Any:
    """Optuna's storage: an RDB URL (sqlite:///file.db, postgresql://...) with a heartbeat, so a
    dead worker's trial is failed and run again once; or a path, Optuna's journal file."""
    import warnings

    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the heartbeat is marked experimental; it is what workers need
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=1)
        return RDBStorage(
            url, heartbeat_interval=heartbeat, grace_period=4 * heartbeat, heartbeat_stale_trial_callback=retry
        )


def sampler_for(space: Space) -> Any:
    import optuna

    if space.sampler == "grid":
        return optuna.samplers.GridSampler({item.key: item.grid() for item in space.dimensions}, seed=space.seed)
    return optuna.samplers.TPESampler(seed=space.seed)


def open_study(space: Space, storage: str, heartbeat: int = HEARTBEAT_SECONDS) -> Any:
    import optuna

    # The search logs each trial itself; Optuna's own lines would repeat them (with tracebacks).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(
        study_name=space.study,
        storage=storage_for(storage, heartbeat),
        sampler=sampler_for(space),
        direction="maximize",
        load_if_exists=True,
    )


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


def objective_for(space: Space, params: dict[str, Any], progress: "Progress", git_remote: str | None = None) -> Any:
    profile_switches = [switch(key, value) for key, value in space.profile.items()]

    def objective(trial: Any) -> float:
        values = {item.key: item.suggest(trial) for item in space.dimensions}
        name = space.experiment_name(trial.number)
        trial.set_user_attr("experiment", name)
        progress.started(name, values)
        try:
            apply_profile(params, {**space.profile, **values})  # the schema, before DVC starts anything
        except ValueError as error:
            raise failed(trial, f"params refused by the schema: {error}") from None
        switches = [arg for pair in profile_switches + [switch(*kv) for kv in values.items()] for arg in ("-S", pair)]
        log_path = LOGS_DIR / space.study / f"{name}.log"
        run = run_experiment(name, switches, f"scores@{space.variant}", log_path, pull=git_remote is not None)
        trial.set_user_attr("stage_seconds", run.stage_seconds)
        trial.set_user_attr("stages_run", run.stages_run)
        trial.set_user_attr("stages_restored", run.stages_restored)
        if run.returncode:
            raise failed(trial, f"`dvc exp run` failed ({run.returncode}):\n{run.log_tail}")
        scores = read_scores(name, space.variant)
        if git_remote:  # shared before its result is stored: a stored trial is never a lost one
            pushing = time.monotonic()
            try:
                push_experiment(name, git_remote)
            except TrialFailed as error:
                raise failed(trial, str(error)) from None
            trial.set_user_attr("push_seconds", round(time.monotonic() - pushing, 2))
        # Recorded to report after the study; never returned, so never what the sampler sees.
        trial.set_user_attr("test_accuracy", scores["test"]["accuracy"])
        trial.set_user_attr("validation_loss", scores["validation"]["loss"])
        return scores["validation"]["accuracy"]

    return objective


def failed(trial: Any, error: str) -> TrialFailed:
    """The trial's failure, its error recorded with it (what `mnist-search show` prints)."""
    trial.set_user_attr("error", error)
    return TrialFailed(error)


class Progress:
    """One line per fact: trial n of N and its params, then its objective and the best so far."""

    def __init__(self, space: Space, done: int) -> None:
        self.space, self.done = space, done

    def started(self, name: str, values: dict[str, Any]) -> None:
        self.done += 1
        shown = " ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in values.items()
        )
        log.info("trial %d of %d (%s): %s", self.done, self.space.trials, name, shown)

    def finished(self, study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        name = trial.user_attrs.get("experiment", f"trial {trial.number}")
        if trial.state == TrialState.COMPLETE:
            restored = trial.user_attrs.get("stages_restored") or []
            note = f", {' '.join(restored)} restored from the run-cache" if restored else ""
            log.info(
                "%s: %s %.4f in %.0f s%s; best so far %.4f (%s)",
                name, OBJECTIVE, trial.value, wall_seconds(trial), note,
                study.best_value, study.best_trial.user_attrs.get("experiment"),
            )  # fmt: skip
        elif trial.state == TrialState.FAIL and "error" in trial.user_attrs:
            log.warning("%s failed: %s", name, trial.user_attrs["error"].splitlines()[0])


def finished_count(study: Any) -> int:
    """Trials that count towards the study's total: completed, or failed for a reason of their own
    (an interrupted or dead worker's trial does not count: it is run again)."""
    from optuna.trial import TrialState

    return sum(
        trial.state == TrialState.COMPLETE or (trial.state == TrialState.FAIL and "error" in trial.user_attrs)
        for trial in study.get_trials(deepcopy=False)
    )


def requeue_interrupted(study: Any) -> int:
    """Queue again the params of every trial an interrupt (or a dead worker) left unfinished, once."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {trial.user_attrs.get("retry_of") for trial in trials} | {
        trial.system_attrs.get("failed_trial") for trial in trials
    }
    queued = 0
    for trial in trials:
        if trial.state == TrialState.FAIL and "error" not in trial.user_attrs and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            queued += 1
    return queued


def run(
    space: Space,
    storage: str,
    params: dict[str, Any],
    git_remote: str | None = None,
    heartbeat: int = HEARTBEAT_SECONDS,
) -> Any:
    """Run the study's remaining trials (all of them, or what an interrupted run left), beside any
    other workers on the same storage; with `git_remote`, each trial uses what the DVC remote holds
    and is pushed there and to the git remote when it finishes. Returns the study."""
    from optuna.trial import TrialState

    study = open_study(space, storage, heartbeat)
    requeued = requeue_interrupted(study)
    done = finished_count(study)
    if done:
        log.info("%s: resuming, %d of %d trials done%s", space.study, done, space.trials,
                 f", {requeued} interrupted one(s) queued again" if requeued else "")  # fmt: skip
    progress = Progress(space, done)
    objective = objective_for(space, params, progress, git_remote)
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        while (step := next_step(study, space)) != "done":
            if step == "trial":
                study.optimize(objective, n_trials=1, catch=(TrialFailed,), callbacks=[progress.finished])
            else:  # only other workers' trials run: wait for them, or for a dead one's heartbeat to stop
                fail_stale_trials(study)
                time.sleep(heartbeat)
    finally:
        signal.signal(signal.SIGTERM, previous)
    completed = [trial for trial in study.get_trials(deepcopy=False) if trial.state == TrialState.COMPLETE]
    log.info("%s: %d trials finished, %d completed", space.study, finished_count(study), len(completed))
    return study


def next_step(study: Any, space: Space) -> str:
    """What this worker does next: "trial" while a retry is queued or the study needs more trials
    than are finished or running; "wait" while other workers' trials run (one whose worker died is
    failed and queued again); else "done"."""
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    running = states.count(TrialState.RUNNING) if is_heartbeat_enabled(study._storage) else 0
    if TrialState.WAITING in states:
        return "trial"
    if finished_count(study) + running < space.trials and (space.sampler != "grid" or grid_left(study, space)):
        return "trial"
    return "wait" if running else "done"


def fail_stale_trials(study: Any) -> None:
    """Fail the trials whose worker stopped beating (RetryFailedTrialCallback queues them again)."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def grid_left(study: Any, space: Space) -> bool:
    """Whether a grid point is still untried (the grid sampler would otherwise repeat one)."""
    from optuna.trial import TrialState

    tried = {
        tuple(trial.params.get(item.key) for item in space.dimensions)
        for trial in study.get_trials(deepcopy=False)
        if trial.state in (TrialState.COMPLETE, TrialState.RUNNING) or "error" in trial.user_attrs
    }
    return len(tried) < grid_size(space.dimensions)


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def wall_seconds(trial: Any) -> float:
    """From Optuna's start of the trial (before its params are sampled) to its end (after its
    result is stored): the trial as a whole."""
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 2)


def table(study: Any) -> list[dict[str, Any]]:
    """Every trial, completed ones best first, then the failed and the running."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        seconds = wall_seconds(trial) if "stage_seconds" in trial.user_attrs else None
        rows.append(
            {
                "trial": trial.number,
                "experiment": trial.user_attrs.get("experiment"),
                "state": trial.state.name,
                "params": trial.params,
                "validation_accuracy": trial.value,
                "test_accuracy": trial.user_attrs.get("test_accuracy"),
                "wall_seconds": seconds,
                "stage_seconds": trial.user_attrs.get("stage_seconds"),
                "push_seconds": trial.user_attrs.get("push_seconds"),
                "overhead_seconds": None if seconds is None else round(seconds - trial.user_attrs["stage_seconds"], 2),
                "stages_run": trial.user_attrs.get("stages_run"),
                "stages_restored": trial.user_attrs.get("stages_restored"),
                "error": trial.user_attrs.get("error"),
            }
        )
    order = {TrialState.COMPLETE.name: 0, TrialState.FAIL.name: 1}
    return sorted(rows, key=lambda row: (order.get(row["state"], 2), -(row["validation_accuracy"] or 0), row["trial"]))


def format_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """The trials as a person reads them: their params, the objective they were chosen on, and their
    test accuracy, reported beside it (never what the sampler saw)."""
    header = ["trial", "experiment", "state", *keys, "validation", "test", "seconds"]
    lines = [header]
    for row in rows:
        lines.append(
            [
                str(row["trial"]),
                row["experiment"] or "-",
                row["state"].lower(),
                *(
                    f"{row['params'][key]:.4g}"
                    if isinstance(row["params"].get(key), float)
                    else str(row["params"].get(key, "-"))
                    for key in keys
                ),
                "-" if row["validation_accuracy"] is None else f"{row['validation_accuracy']:.4f}",
                "-" if row["test_accuracy"] is None else f"{row['test_accuracy']:.4f}",
                "-" if row["wall_seconds"] is None else f"{row['wall_seconds']:.0f}",
            ]
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def picture(study: Any, space: Space, path: Path) -> Path | None:
    """The study at a glance (PNG): each trial's objective and the best so far, then the objective
    against each param, titled with its importance (Optuna's fANOVA) where there are enough trials."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    from mnist_zoo.files import atomic_path

    trials = [trial for trial in study.get_trials(deepcopy=False) if trial.state == TrialState.COMPLETE]
    if not trials:
        return None
    importances = {}
    if len(trials) >= 4 and len(space.dimensions) > 1:
        import optuna

        importances = optuna.importance.get_param_importances(study)
    panels = 1 + len(space.dimensions)
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    axes = grid.ravel()
    for unused in axes[panels:]:
        unused.set_visible(False)
    history = axes[0]
    numbers = [trial.number for trial in trials]
    values = [trial.value * 100 for trial in trials]
    best = [max(values[: index + 1]) for index in range(len(values))]
    history.scatter(numbers, values, s=18, color="tab:blue", label="trial")
    history.step(numbers, best, where="post", color="tab:red", label="best so far")
    history.set(title=f"{space.study}: {OBJECTIVE}", xlabel="trial", ylabel=f"{OBJECTIVE} (%)")
    history.legend(loc="lower right", fontsize=8)
    for axis, item in zip(axes[1:panels], space.dimensions, strict=True):
        points = [(trial.params[item.key], trial.value * 100) for trial in trials if item.key in trial.params]
        categorical = item.choices is not None and not all(isinstance(value, int | float) for value in item.choices)
        axis.scatter([str(x) if categorical else x for x, _ in points], [y for _, y in points], s=18, color="tab:blue")
        if item.log:
            axis.set_xscale("log")
        title = item.key + (f" (importance {importances[item.key]:.2f})" if item.key in importances else "")
        axis.set(title=title, xlabel=item.key, ylabel=f"{OBJECTIVE} (%)")
    figure.tight_layout()
    with atomic_path(path) as temp_path:
        figure.savefig(temp_path, format="png", dpi=110)
    plt.close(figure)
    return path


def show(space: Space, storage: str, as_json: bool = False, top: int = 3, pull_from: str | None = None) -> str:
    """The study's trials (best first), its picture and table written under results/search/, and
    the best trials' test accuracy, reported after the choice. With `pull_from`, every completed
    trial's experiment is first pulled from that git remote (and its outputs from the DVC remote),
    wherever it ran, so `dvc exp show` lists them all."""
    from mnist_zoo.files import write_json

    study = open_study(space, storage)
    rows = table(study)
    if pull_from:
        pull_experiments([row["experiment"] for row in rows if row["state"] == "COMPLETE"], pull_from)
    write_json(
        RESULTS_DIR / f"{space.study}.json",
        {"study": space.study, "variant": space.variant, "objective": OBJECTIVE, "trials": rows},
    )
    drawn = picture(study, space, RESULTS_DIR / f"{space.study}.png")
    if as_json:
        return json.dumps(rows, indent=2)
    keys = [item.key for item in space.dimensions]
    best = [row for row in rows if row["state"] == "COMPLETE"][:top]
    lines = [format_table(rows, keys), ""]
    if best:
        lines.append(f"Chosen on {OBJECTIVE}; the best {len(best)} trials' test accuracy, reported only:")
        lines += [
            f"  {row['experiment']}: validation {row['validation_accuracy']:.4f}, test {row['test_accuracy']:.4f}"
            for row in best
        ]
    if drawn:
        lines.append(f"Picture: {drawn}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="mnist-search",
        description="Search params.yaml keys with Optuna, each trial a DVC experiment trained by the pipeline.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "run the study's remaining trials, then show it"), ("show", "show the study's trials")):
        command = commands.add_parser(name, help=text)
        command.add_argument("space", type=Path, help="the space file, e.g. search/flagship.yaml")
        command.add_argument(
            "--storage",
            default=os.environ.get("MNIST_SEARCH_STORAGE", DEFAULT_STORAGE),
            help=f"Optuna's storage: a URL or a journal file (default $MNIST_SEARCH_STORAGE, else {DEFAULT_STORAGE})",
        )
        command.add_argument("--study", help="the study's name (default: the file's `study:`)")
        command.add_argument("--json", action="store_true", help="the trials as JSON")
        if name == "run":
            command.add_argument("--trials", type=int, help="the study's total number of trials (default: the file's)")
            command.add_argument("--sampler", choices=SAMPLERS, help="default: the file's, else tpe")
            command.add_argument(
                "--push",
                metavar="GIT_REMOTE",
                help="a worker of a shared study: use the DVC remote's outputs and run-cache, and push each "
                "finished trial (`dvc exp push --run-cache GIT_REMOTE`)",
            )
            command.add_argument(
                "--heartbeat", type=int, default=HEARTBEAT_SECONDS, help="seconds between a worker's heartbeats"
            )
        else:
            command.add_argument(
                "--pull", metavar="GIT_REMOTE", help="first `dvc exp pull` every finished trial from GIT_REMOTE"
            )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    from mnist_zoo.params import load_params

    try:
        if not Path("dvc.yaml").is_file():
            raise ValueError("no dvc.yaml here: run mnist-search at the project's root.")
        params = load_params(PARAMS_PATH)
        overrides = {name: getattr(arguments, name, None) for name in ("study", "trials", "sampler")}
        space = load_space(arguments.space, params, **overrides)
        if arguments.command == "run":
            run(space, arguments.storage, params, arguments.push, arguments.heartbeat)
        print(show(space, arguments.storage, arguments.json, pull_from=getattr(arguments, "pull", None)))
    except (ValueError, FileNotFoundError) as error:
        print(f"mnist-search: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnist-search: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
