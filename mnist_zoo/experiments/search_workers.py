"""A worker of mnist-search: it runs the study's remaining trials beside any other workers on the
same storage, waits while only theirs run, fails a dead worker's trial (its heartbeat stopped) so it
is queued again, and stops on an interrupt with its trial marked for a rerun."""

import logging
import signal
import time
from typing import Any

from mnist_zoo.experiments.search_space import Space, grid_size
from mnist_zoo.experiments.search_study import (
    HEARTBEAT_SECONDS,
    Progress,
    beats,
    finished_count,
    objective_for,
    open_study,
    requeue_interrupted,
)
from mnist_zoo.experiments.search_trials import TrialFailed

log = logging.getLogger("search")


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
        while (step := next_step(study, space, beats(storage))) != "done":
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


def next_step(study: Any, space: Space, heartbeat: bool) -> str:
    """What this worker does next: "trial" while a retry is queued or the study needs more trials
    than are finished or running; "wait" while other workers' trials run (one whose worker died is
    failed and queued again; without a `heartbeat` a running trial cannot be told from a dead one's,
    so none is waited for); else "done"."""
    from optuna.trial import TrialState

    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    running = states.count(TrialState.RUNNING) if heartbeat else 0
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
