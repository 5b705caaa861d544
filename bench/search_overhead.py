"""What mnist-search costs beyond training: per trial, its wall time (from Optuna's start of the
trial, before its params are sampled, to its stored end) minus its stages' own time (each stage's
command, from DVC's verbose log). The rest is orchestration: Optuna's sampling and storage, DVC's
start-up, its temporary copy of the repository and the checkout of what the target needs, run-cache
lookups, the experiment's commit, and reading the trial's scores.

Run after a study, with mnist-search's arguments: `python -m bench.search_overhead search/flagship.yaml`;
writes bench/results/search_overhead_<study>.json and prints the table.
"""

import argparse
import os
import platform
import statistics
from pathlib import Path

from mnist_zoo.experiments.search_report import table
from mnist_zoo.experiments.search_space import load_space
from mnist_zoo.experiments.search_study import DEFAULT_STORAGE, open_study
from mnist_zoo.files import write_json
from mnist_zoo.params import load_params

RESULTS_DIR = Path("bench/results")


def overhead(rows: list[dict]) -> dict:
    """The trials that ran DVC, their overheads and the median, min and max."""
    measured = [row for row in rows if row["overhead_seconds"] is not None]
    if not measured:
        raise SystemExit("No trial of this study ran `dvc exp run` yet: run the study first.")
    seconds = [row["overhead_seconds"] for row in measured]
    return {
        "trials": [
            {key: row[key] for key in ("experiment", "state", "wall_seconds", "stage_seconds", "overhead_seconds")}
            | {"restored": len(row["stages_restored"] or []), "run": len(row["stages_run"] or [])}
            for row in sorted(measured, key=lambda row: row["trial"])
        ],
        "median_overhead_seconds": round(statistics.median(seconds), 2),
        "min_overhead_seconds": min(seconds),
        "max_overhead_seconds": max(seconds),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("space", type=Path, help="the study's space file, e.g. search/flagship.yaml")
    parser.add_argument("--storage", default=os.environ.get("MNIST_SEARCH_STORAGE", DEFAULT_STORAGE))
    parser.add_argument("--study", help="the study's name (default: the file's)")
    arguments = parser.parse_args()
    space = load_space(arguments.space, load_params(), study=arguments.study)
    result = {"study": space.study} | overhead(table(open_study(space, arguments.storage)))
    write_json(RESULTS_DIR / f"search_overhead_{space.study}.json", result)
    print(f"{'experiment':<18} {'wall s':>7} {'stages s':>9} {'overhead s':>11}  run/restored")
    for row in result["trials"]:
        print(
            f"{row['experiment']:<18} {row['wall_seconds']:>7.1f} {row['stage_seconds']:>9.1f} "
            f"{row['overhead_seconds']:>11.1f}  {row['run']}/{row['restored']}"
        )
    print(f"median overhead {result['median_overhead_seconds']} s over {len(result['trials'])} trials")


if __name__ == "__main__":
    main()
