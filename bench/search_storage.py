"""What Optuna's storage costs a trial of mnist-search: asking for a trial with five params, the
seven attributes the search records, telling its value and reading the study's trials (as the
search does to decide its next step), timed against an SQLite file and a real PostgreSQL server on
127.0.0.1 (Debian's, as tests/test_search_workers.py starts it). Median of 30 trials each.

Run: `python -m bench.search_storage`; prints the two medians and writes bench/results/search_storage.json.
"""

import statistics
import tempfile
import time
import warnings
from pathlib import Path

from mnist_zoo.experiments.search_study import storage_for
from mnist_zoo.files import write_json
from tests.postgres_server import postgres_server

ATTRIBUTES = (
    "experiment",
    "stage_seconds",
    "stages_run",
    "stages_restored",
    "test_accuracy",
    "validation_loss",
    "push_seconds",
)


def seconds_per_trial(url: str, trials: int = 30) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(storage=storage_for(url), direction="maximize", study_name="storage-cost")
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask()
        for key in ("filters", "dense_units", "dropout", "translation", "learning_rate"):
            trial.suggest_float(key, 0.0, 1.0)
        for key in ATTRIBUTES:
            trial.set_user_attr(key, 1.0)
        study.tell(trial, 0.5)
        study.get_trials(deepcopy=False)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as directory:
        sqlite = seconds_per_trial(f"sqlite:///{directory}/studies.db")
    with postgres_server() as url:
        postgresql = seconds_per_trial(url)
    print(f"storage seconds per trial: SQLite {sqlite}, PostgreSQL {postgresql}")
    write_json(Path("bench/results/search_storage.json"), {"sqlite_seconds": sqlite, "postgresql_seconds": postgresql})


if __name__ == "__main__":
    main()
