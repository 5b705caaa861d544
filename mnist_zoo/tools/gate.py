"""Regression gate: exit 1 when a variant's test accuracy dropped against a git revision both
significantly (a paired McNemar test on the same test images, p under report.significance) and by
more than report.band_sds standard deviations of its recipe's seed band on the profile compared
(results/seed_bands.json); print every variant's verdict.

Run: `mnist-gate --rev main [--profile pull_request]` (or `python -m mnist_zoo.tools.gate`; the
pull-request workflow runs it against the base branch).
"""

import argparse
import sys

from mnist_zoo.experiments.comparison import compare, describe
from mnist_zoo.params import load_params

PROFILES = ("full", "pull_request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", required=True, help="git revision to compare against, e.g. main")
    parser.add_argument("--head", default=None, help="the other side's revision (default: the workspace)")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="full",
        help="which runs these are, for the seed bands: full recipes or the pull-request profile",
    )
    parser.add_argument("--significance", type=float, default=None, help="override params.yaml report.significance")
    arguments = parser.parse_args(argv)
    params = load_params()
    if arguments.significance is not None:  # the one value the schema never sees
        if not 0 < arguments.significance < 1:
            parser.error(f"--significance is {arguments.significance:g}; give a p-value bar in (0, 1), e.g. 0.05.")
        params["report"]["significance"] = arguments.significance

    verdicts = compare(arguments.rev, arguments.head, arguments.profile, params)
    band_sds = params["report"]["band_sds"]
    for verdict in verdicts:
        cells = describe(verdict, band_sds)
        print(
            f"{verdict.variant}: {cells['accuracy']}; paired test {cells['paired']}; seed band {cells['band']}: "
            f"{cells['verdict']}"
        )
    regressions = [verdict.variant for verdict in verdicts if verdict.regression]
    if regressions:
        print(
            f"Regressions against {arguments.rev} (significant at p < {params['report']['significance']:g} and "
            f"outside ±{band_sds:g} sd of the seed band): {', '.join(regressions)}"
        )
        return 1
    print(f"No regression against {arguments.rev} ({len(verdicts)} variants compared, {arguments.profile} profile).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
