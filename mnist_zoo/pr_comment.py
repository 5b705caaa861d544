"""Build the pull-request comment: per-variant metric changes, the leaderboard, the plots.

Reads `dvc metrics diff --json` output (file or stdin) and metrics/leaderboard.md; prints Markdown
that `cml comment create` posts (CML uploads the local PNGs it links).
Run: `dvc metrics diff main --json | mnist-pr-comment - > comment.md` (or `python -m mnist_zoo.pr_comment`).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EVALUATION_PREFIX = "metrics/evaluation/"
HEADLINE_METRICS = ("accuracy", "f1_macro", "loss")
PLOTS = ("plots/leaderboard.png", "plots/per_class_f1.png", "plots/training_curves.png")


def summarise_diff(diff: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per evaluated variant whose headline metrics or per-class figures changed."""
    rows = []
    for path, metrics in sorted(diff.items()):
        if not path.startswith(EVALUATION_PREFIX) or not metrics:
            continue
        per_class_changed = sorted({key.split(".")[1] for key in metrics if key.startswith("per_class.")}, key=int)
        row = {"variant": Path(path).stem, "per_class_changed": per_class_changed}
        for key in HEADLINE_METRICS:
            entry = metrics.get(key, {})
            row[key] = (entry.get("old"), entry.get("new"), entry.get("diff"))
        rows.append(row)
    return rows


def format_change(old: float | None, new: float | None, change: float | None, percent: bool) -> str:
    def number(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.2%}" if percent else f"{value:.4f}"

    if old is None and new is None:
        return "unchanged"
    if change is None:
        return f"{number(old)} -> {number(new)}"
    sign = "+" if change >= 0 else "-"
    delta = f"{abs(change) * 100:.2f} pp" if percent else f"{abs(change):.4f}"
    return f"{number(old)} -> {number(new)} ({sign}{delta})"


def comment_markdown(diff: dict[str, Any], leaderboard: str, base: str, plots: tuple[str, ...] = PLOTS) -> str:
    rows = summarise_diff(diff)
    lines = [f"## Model report against `{base}`", ""]
    if rows:
        lines += [
            "| Variant | Test accuracy | Macro F1 | Loss | Digits whose figures changed |",
            "|---|---|---|---|---|",
        ]
        for row in rows:
            cells = [
                format_change(*row["accuracy"], percent=True),
                format_change(*row["f1_macro"], percent=False),
                format_change(*row["loss"], percent=False),
                ", ".join(row["per_class_changed"]) or "none",
            ]
            lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    else:
        lines.append("No evaluation metric changed.")
    lines += ["", leaderboard.replace("# Leaderboard", "### Leaderboard", 1).strip(), ""]
    lines += [f"![{Path(plot).stem}]({plot})" for plot in plots if Path(plot).exists()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("diff_json", help="`dvc metrics diff --json` output, or - for stdin")
    parser.add_argument("--base", default="the base branch", help="name of the compared revision")
    parser.add_argument("--leaderboard", type=Path, default=Path("metrics/leaderboard.md"))
    arguments = parser.parse_args(argv)
    text = sys.stdin.read() if arguments.diff_json == "-" else Path(arguments.diff_json).read_text()
    diff = json.loads(text or "{}")
    sys.stdout.write(comment_markdown(diff, arguments.leaderboard.read_text(), arguments.base))


if __name__ == "__main__":
    main()
