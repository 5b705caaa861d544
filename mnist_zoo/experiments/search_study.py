"""The Optuna study of mnist-search: its storage (an RDB URL with a heartbeat, or a journal file),
its sampler, the objective each trial computes through DVC, the trials' progress as a person reads
it, and which trials count towards the study's total or are queued again."""

import logging
import time
from pathlib import Path
from typing import Any

from mnist_zoo.experiments.profiles import apply_profile
from mnist_zoo.experiments.search_space import Space, switch
from mnist_zoo.experiments.search_trials import LOGS_DIR, TrialFailed, push_experiment, read_scores, run_experiment

log = logging.getLogger("search")

# The embedded default: a file beside the project's code (git-ignored), nothing to start.
DEFAULT_STORAGE = "sqlite:///search/studies.db"
# Each worker beats this often in a relational storage; one silent for four beats is taken for dead,
# and its trial is failed and queued again for another worker.
HEARTBEAT_SECONDS = 30


def beats(storage: str) -> bool:
    """Whether workers on this storage beat (an RDB URL; a journal file has no heartbeat)."""
    return "://" in storage


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
        direction=space.direction,
        load_if_exists=True,
    )


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
        # Recorded to report after the study; only the objective is returned, what the sampler sees.
        trial.set_user_attr("test_accuracy", scores["test"]["accuracy"])
        trial.set_user_attr("validation_accuracy", scores["validation"]["accuracy"])
        trial.set_user_attr("validation_loss", scores["validation"]["loss"])
        split, figure = space.objective.split(".")
        return scores[split][figure]

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
                name, self.space.objective_label, trial.value, wall_seconds(trial), note,
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


def wall_seconds(trial: Any) -> float:
    """From Optuna's start of the trial (before its params are sampled) to its end (after its
    result is stored): the trial as a whole."""
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 2)
