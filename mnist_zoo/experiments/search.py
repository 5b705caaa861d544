"""A search over params.yaml keys with Optuna, every trial a named DVC experiment.

The space is data (search/*.yaml): the keys to vary and their ranges, the variant they train, an
optional profile of params every trial sets, the number of trials and the sampler (Optuna's TPE, or
its grid sampler). Each trial is `dvc exp run --temp -n <study>-<n> -S key=value ... scores@<variant>`:
the pipeline's own stages in a temporary copy of the repository, so the workspace is left alone, a
stage whose code, params and data were run before is restored from DVC's run-cache instead of rerun,
and only the variant the params touch is trained. Its objective is the space file's (the model's
validation accuracy by default, or its validation loss; metrics/scores/<variant>.json, from
evaluate): the test set is never used to choose; the best trials' test accuracy is read after the
study, to report.

This module is the command line; the rest is in parts: search_space (the file), search_trials (a
trial through DVC), search_study (Optuna's study and the objective), search_workers (the worker
loop), search_report (the table and the picture).

Optuna's storage holds the study (an SQLite file beside the repository by default, or any URL Optuna
takes, e.g. a shared PostgreSQL database), so a study interrupted resumes where it stopped.
"""

import logging
import os
import sys
from pathlib import Path

from mnist_zoo.config import PARAMS_PATH
from mnist_zoo.experiments.search_report import show
from mnist_zoo.experiments.search_space import SAMPLERS, load_space
from mnist_zoo.experiments.search_study import DEFAULT_STORAGE, HEARTBEAT_SECONDS
from mnist_zoo.experiments.search_workers import run


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
