"""Build the pull-request comment: per-variant changes of the summary's figures, the leaderboard,
the cross-model plots.

Reads `dvc metrics diff --json` output (file or stdin) of results/metrics.json and
results/leaderboard.md; prints Markdown that `cml comment create` posts (CML uploads the local PNGs
it links). Run: `dvc metrics diff main --json | mnist-pr-comment - > comment.md` (or
`python -m mnist_zoo.pr_comment`).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mnist_zoo.config import LEADERBOARD_PATH, RESULTS_DIR, RESULTS_METRICS_PATH

# The summary's figures per variant, as the comment's columns: (key, header, how to format).
COLUMNS = (
    ("accuracy", "Test accuracy", "percent"),
    ("f1_macro", "Macro F1", "ratio"),
    ("training_seconds", "Training s", "count"),
    ("epochs", "Epochs", "count"),
)
PLOTS = tuple(
    (RESULTS_DIR / name).as_posix() for name in ("leaderboard.png", "per_class_f1.png", "training_curves.png")
)


def summarise_diff(diff: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per variant any of whose summary figures changed, in name order."""
    metrics = diff.get(RESULTS_METRICS_PATH.as_posix()) or {}
    figures = {key for key, _, _ in COLUMNS}
    variants = sorted({key.partition(".")[2] for key in metrics if key.partition(".")[0] in figures})
    rows = []
    for variant in variants:
        row = {"variant": variant}
        for key, _, _ in COLUMNS:
            entry = metrics.get(f"{key}.{variant}", {})
            row[key] = (entry.get("old"), entry.get("new"), entry.get("diff"))
        rows.append(row)
    return rows


def format_change(old: float | None, new: float | None, change: float | None, kind: str) -> str:
    def number(value: float | None) -> str:
        if value is None:
            return "-"
        return {"percent": f"{value:.2%}", "ratio": f"{value:.4f}", "count": f"{value:,.0f}"}[kind]

    if old is None and new is None:
        return "unchanged"
    if change is None:
        return f"{number(old)} -> {number(new)}"
    sign = "+" if change >= 0 else "-"
    delta = {"percent": f"{abs(change) * 100:.2f} pp", "ratio": f"{abs(change):.4f}", "count": f"{abs(change):,.0f}"}[
        kind
    ]
    return f"{number(old)} -> {number(new)} ({sign}{delta})"


def comment_markdown(diff: dict[str, Any], leaderboard: str, base: str, plots: tuple[str, ...] = PLOTS) -> str:
    rows = summarise_diff(diff)
    lines = [f"## Model report against `{base}`", ""]
    if rows:
        lines += [
            "| Variant | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for row in rows:
            cells = [format_change(*row[key], kind) for key, _, kind in COLUMNS]
            lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    else:
        lines.append("No variant's test figures changed.")
    lines += ["", leaderboard.replace("# Leaderboard", "### Leaderboard", 1).strip(), ""]
    lines += [f"![{Path(plot).stem}]({plot})" for plot in plots if Path(plot).exists()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("diff_json", help="`dvc metrics diff --json` output, or - for stdin")
    parser.add_argument("--base", default="the base branch", help="name of the compared revision")
    parser.add_argument("--leaderboard", type=Path, default=LEADERBOARD_PATH)
    arguments = parser.parse_args(argv)
    text = sys.stdin.read() if arguments.diff_json == "-" else Path(arguments.diff_json).read_text()
    diff = json.loads(text or "{}")
    sys.stdout.write(comment_markdown(diff, arguments.leaderboard.read_text(), arguments.base))


if __name__ == "__main__":
    main()
