"""Regression gate: exit 1 when any variant's test accuracy dropped by more than the threshold
(params.yaml report.max_accuracy_drop) against a git revision, printing the offending rows.

Run: `mnist-gate --rev main` (or `python -m mnist_zoo.gate`; the pull-request workflow runs it
against the base branch).
"""

import argparse
import json
import sys
from pathlib import Path

from mnist_zoo.config import RESULTS_METRICS_PATH as SUMMARY  # report's summary; "accuracy" per variant
from mnist_zoo.params import load_params


def accuracies_in_workspace(path: Path = SUMMARY) -> dict[str, float]:
    if not path.exists():
        raise ValueError(f"{path} is missing: run `dvc repro` (the report stage writes it) first.")
    return json.loads(path.read_text())["accuracy"]


def accuracies_at_revision(revision: str, path: Path = SUMMARY) -> dict[str, float]:
    """Test accuracy per variant at `revision`, from the summary git holds there (as
    `dvc metrics show` reads it: no DVC cache or remote needed)."""
    import dvc.api
    from dvc.scm import RevError

    try:
        return dvc.api.metrics_show(path.as_posix(), rev=revision)["accuracy"]
    except (RevError, FileNotFoundError, KeyError) as error:
        raise ValueError(
            f"Cannot read the test accuracies in {path} at revision {revision!r} ({type(error).__name__}: "
            f"{error}). Pass a revision whose pipeline ran and whose {path} is committed."
        ) from None


def regressions(base: dict[str, float], current: dict[str, float], max_drop: float) -> list[str]:
    """One line per variant (present in both) whose accuracy fell by more than `max_drop`."""
    return [
        f"{name}: {base[name]:.4f} -> {current[name]:.4f} ({current[name] - base[name]:+.4f}, allowed -{max_drop:.4f})"
        for name in sorted(base.keys() & current.keys())
        if base[name] - current[name] > max_drop + 1e-12
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", required=True, help="git revision to compare against, e.g. main")
    parser.add_argument("--max-drop", type=float, default=None, help="override params.yaml report.max_accuracy_drop")
    arguments = parser.parse_args(argv)
    max_drop = arguments.max_drop
    if max_drop is None:
        max_drop = load_params()["report"]["max_accuracy_drop"]  # the schema checked it
    elif not 0 <= max_drop <= 1:  # the one value the schema never sees
        parser.error(
            f"--max-drop is {max_drop:g}; give the share of test accuracy a variant may lose, "
            "from 0 to 1, e.g. 0.005 (half a percentage point)."
        )

    base, current = accuracies_at_revision(arguments.rev), accuracies_in_workspace()
    for name in sorted(base.keys() - current.keys()):
        print(f"note: {name} is in {arguments.rev} but was not evaluated here")
    for name in sorted(current.keys() - base.keys()):
        print(f"note: {name} is new (not in {arguments.rev})")
    failures = regressions(base, current, max_drop)
    if failures:
        print(f"Accuracy regressions against {arguments.rev} (more than {max_drop:.4f} lost):")
        print("\n".join("  " + line for line in failures))
        return 1
    print(
        f"No variant lost more than {max_drop:.4f} test accuracy against {arguments.rev} "
        f"({len(base.keys() & current.keys())} compared)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
