"""What a study found, as a person reads it: every trial (completed ones best first) as a table and
JSON under results/search/, the picture of the objective over the trials and against each param,
and the best trials' test accuracy, reported after the choice, never made with it."""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mnist_zoo.experiments.search_space import Space
from mnist_zoo.experiments.search_study import open_study, wall_seconds
from mnist_zoo.experiments.search_trials import pull_experiments

RESULTS_DIR = Path("results/search")  # each study's picture and table, written by `show` and `run`


def table(study: Any) -> list[dict[str, Any]]:
    """Every trial, completed ones best first, then the failed and the running."""
    from optuna.study import StudyDirection
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
                "objective": trial.value,
                "validation_accuracy": trial.user_attrs.get("validation_accuracy", trial.value),
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
    sign = -1 if study.direction == StudyDirection.MAXIMIZE else 1
    return sorted(rows, key=lambda row: (order.get(row["state"], 2), sign * (row["objective"] or 0), row["trial"]))


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
    """The study's figure (plot_study) as a byte-stable PNG at `path`; None before any trial completed."""
    from mnist_zoo.figures import save_figure

    figure = plot_study(study, space)
    if figure is None:
        return None
    save_figure(figure, path)
    return path


def plot_study(study: Any, space: Space) -> Any:
    """The study at a glance: each trial's objective and the best so far, then the objective against
    each param, titled with its importance (Optuna's fANOVA) where there are enough trials. Axes read
    at any range: whole trial numbers, a log axis labelled at its decades (or a few plain ticks
    inside one)."""
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    from optuna.trial import TrialState

    trials = [trial for trial in study.get_trials(deepcopy=False) if trial.state == TrialState.COMPLETE]
    if not trials:
        return None
    importances = {}
    if len(trials) >= 4 and len(space.dimensions) > 1:
        import optuna

        importances = optuna.importance.get_param_importances(study)
    percent = space.objective.endswith("accuracy")
    scale, label = (100, f"{space.objective_label} (%)") if percent else (1, space.objective_label)
    better = max if space.direction == "maximize" else min
    panels = 1 + len(space.dimensions)
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    axes = grid.ravel()
    for unused in axes[panels:]:
        unused.set_visible(False)
    history = axes[0]
    numbers = [trial.number for trial in trials]
    values = [trial.value * scale for trial in trials]
    best = [better(values[: index + 1]) for index in range(len(values))]
    history.scatter(numbers, values, s=18, color="tab:blue", label="trial")
    history.step(numbers, best, where="post", color="tab:red", label="best so far")
    history.set(title=f"{space.study}: {space.objective_label}", xlabel="trial", ylabel=label)
    history.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    history.legend(loc="best", fontsize=8)
    for axis, item in zip(axes[1:panels], space.dimensions, strict=True):
        points = [(trial.params[item.key], trial.value * scale) for trial in trials if item.key in trial.params]
        categorical = item.choices is not None and not all(isinstance(value, int | float) for value in item.choices)
        axis.scatter([str(x) if categorical else x for x, _ in points], [y for _, y in points], s=18, color="tab:blue")
        if item.log:
            label_log_axis(axis, item.low, item.high)
        elif item.is_int:
            axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        title = item.key + (f" (importance {importances[item.key]:.2f})" if item.key in importances else "")
        axis.set(title=title, xlabel=item.key, ylabel=label)
    figure.tight_layout()
    return figure


def label_log_axis(axis: Any, low: float, high: float) -> None:
    """A log x axis over [low, high]: labels at its decades where it spans one or more, else at a
    few plain ticks (a range inside one decade, 0.0125..0.027, would print every minor label)."""
    from matplotlib import ticker

    axis.set_xscale("log")
    axis.set_xlim(low / 1.1, high * 1.1)
    axis.xaxis.set_minor_formatter(ticker.NullFormatter())
    if high / low < 10:
        axis.xaxis.set_major_locator(ticker.FixedLocator(np.geomspace(low, high, 4)))
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))


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
        {"study": space.study, "variant": space.variant, "objective": space.objective, "trials": rows},
    )
    drawn = picture(study, space, RESULTS_DIR / f"{space.study}.png")
    if as_json:
        return json.dumps(rows, indent=2)
    keys = [item.key for item in space.dimensions]
    best = [row for row in rows if row["state"] == "COMPLETE"][:top]
    lines = [format_table(rows, keys), ""]
    if best:
        lines.append(f"Chosen on {space.objective_label}; the best {len(best)} trials' test accuracy, reported only:")
        lines += [
            f"  {row['experiment']}: validation {row['validation_accuracy']:.4f}, test {row['test_accuracy']:.4f}"
            for row in best
        ]
    if drawn:
        lines.append(f"Picture: {drawn}")
    return "\n".join(lines)
