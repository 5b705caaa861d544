"""Build the pull-request comment: per variant, the change in test accuracy, the paired McNemar
test on the same test images and the recipe's seed band, with a verdict; what the change did to the
data (mnist-data-diff's section: changed examples, each model's answers on them); then the
leaderboard and the cross-model plots. It says which runs it compared (full recipes, or the pull-request profile).

Prints Markdown that `cml comment create` posts (CML uploads the local PNGs it links).
Run: `mnist-pr-comment --base main [--head HEAD] [--profile pull_request] > comment.md` (or
`python -m mnist_zoo.tools.pr_comment`).
"""

import argparse
import sys
from pathlib import Path

from mnist_zoo.config import LEADERBOARD_PATH, RESULTS_DIR
from mnist_zoo.experiments.comparison import Verdict, compare, describe
from mnist_zoo.params import load_params
from mnist_zoo.tools.data_diff import data_section

PLOTS = tuple(
    (RESULTS_DIR / name).as_posix()
    for name in ("leaderboard.png", "per_class_f1.png", "training_curves.png", "robustness.png")
)
# Beside the checkout, untracked: CML uploads the PNGs the comment links.
DATA_SHEET = Path("data_diff.png")
PROFILE_NOTES = {
    "full": "full runs of every recipe (the base side restored from the DVC remote's run-cache)",
    "pull_request": "the pull-request profile (fewer images and epochs, no DVC remote): compare its "
    "figures with each other, not with the full runs' in the README",
}


def comment_markdown(
    verdicts: list[Verdict],
    leaderboard: str,
    base: str,
    profile: str,
    band_sds: float,
    significance: float,
    plots: tuple[str, ...] = PLOTS,
    data: str = "",
) -> str:
    lines = [f"## Model report against `{base}`", "", f"Compared: {PROFILE_NOTES[profile]}.", ""]
    if verdicts:
        lines += [
            "| Variant | Test accuracy | Paired test (right only on base / only here, p) | Seed band | Verdict |",
            "|---|---|---|---|---|",
        ]
        for verdict in verdicts:
            cells = describe(verdict, band_sds)
            lines.append(
                f"| {verdict.variant} | {cells['accuracy']} | {cells['paired']} | {cells['band']} | "
                f"{cells['verdict']} |"
            )
        lines += [
            "",
            f"A drop is a regression when the paired McNemar test on the same test images gives "
            f"p < {significance:g} and it lies outside ±{band_sds:g} sd of the recipe's seed band "
            f"(bench/seed_spread.py, results/seed_bands.json).",
        ]
    else:
        lines.append("No variant was evaluated on both sides.")
    if data:
        lines += ["", data.strip()]
    lines += ["", leaderboard.replace("# Leaderboard", "### Leaderboard", 1).strip(), ""]
    lines += [f"![{Path(plot).stem}]({plot})" for plot in plots if Path(plot).exists()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the base revision, e.g. main or quick-base")
    parser.add_argument("--head", default=None, help="this side's revision (default: the workspace)")
    parser.add_argument("--profile", choices=sorted(PROFILE_NOTES), default="full")
    parser.add_argument("--base-name", default=None, help="how the comment names the base (default: --base)")
    parser.add_argument("--leaderboard", type=Path, default=LEADERBOARD_PATH)
    parser.add_argument("--data-sheet", type=Path, default=DATA_SHEET, help="the changed images' contact sheet")
    arguments = parser.parse_args(argv)
    params = load_params()
    verdicts = compare(arguments.base, arguments.head, arguments.profile, params)
    base_name = arguments.base_name or arguments.base
    try:
        data, _ = data_section(
            arguments.base, arguments.head, base_name, arguments.head or "this branch", arguments.data_sheet
        )
    except ValueError as error:  # a base from before the catalog: say so, and compare the models still
        data = f"### Data\n\nNo data comparison: {error}\n"
    sys.stdout.write(
        comment_markdown(
            verdicts,
            arguments.leaderboard.read_text(),
            base_name,
            arguments.profile,
            params["report"]["band_sds"],
            params["report"]["significance"],
            data=data,
        )
    )


if __name__ == "__main__":
    main()
