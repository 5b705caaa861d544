"""Where a non-training stage's seconds go: each stage command of dvc.yaml and ship/dvc.yaml (the
per-variant ones for one variant), run as DVC runs it, timed whole, with the share it spends
importing (`python -X importtime`: the cumulative time of every top-level import, lazy ones inside
`main` too) and the rest, its work. One run, one machine, every stage side by side.

Run after `dvc repro` (it needs every input): `python -m bench.stage_costs [--variant flagship]
[--rounds 2]`; prints a Markdown table (the fastest round of each). The outputs the stages rewrite
are put back afterwards (`git checkout` of the git ones, `dvc checkout --force` of the rest), so the
workspace ends as it began.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

PIPELINES = (Path("dvc.yaml"), Path("ship/dvc.yaml"))
TRAINING = ("train", "train_transfer", "features", "train_candidates", "fetch", "fetch_qmnist", "fetch_fashion")
# A line of -X importtime: "import time: self [us] | cumulative | imported package", indented by depth.
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")


def stage_commands(variant: str, root: Path = Path(".")) -> dict[str, str]:
    """Every non-training stage's command, per-variant ones for `variant` (by name as dvc shows it)."""
    commands = {}
    for pipeline in PIPELINES:
        stages = yaml.safe_load((root / pipeline).read_text())["stages"]
        for name, stage in stages.items():
            if name in TRAINING:
                continue
            if "foreach" in stage:
                if name.endswith("_transfer"):
                    continue  # opt-in: no transfer variant by default
                commands[f"{name}@{variant}"] = stage["do"]["cmd"].replace("${key}", variant)
            else:
                commands[name] = stage["cmd"]
    return commands


def import_seconds(stderr: str) -> float:
    """The cumulative seconds of the top-level imports (depth 0) in -X importtime's report."""
    total = 0
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match and not match.group(2):
            total += int(match.group(1))
    return total / 1e6


def measure(command: str) -> tuple[float, float]:
    """(wall seconds, import seconds) of one run of a stage command (python -m ... under importtime)."""
    arguments = command.split()
    assert arguments[0] == "python", command
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    wall = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"`{command}` failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return wall, import_seconds(result.stderr)


def restore() -> None:
    """The outputs as committed: git's (results/, metrics/scores/), then DVC's (site/, the evaluations...)."""
    subprocess.run(["git", "checkout", "--", "results", "metrics/scores"], check=True)
    subprocess.run(["dvc", "checkout", "--force", "--quiet"], check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="flagship", help="the variant of the per-variant stages")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each stage; the fastest is shown")
    arguments = parser.parse_args(argv)
    rows = []
    try:
        for name, command in stage_commands(arguments.variant).items():
            runs = [measure(command) for _ in range(arguments.rounds)]
            wall, imports = min(runs)
            rows.append((name, wall, imports))
            print(f"{name}: {wall:.1f} s, imports {imports:.1f} s", file=sys.stderr)
    finally:
        restore()
    total = sum(wall for _, wall, _ in rows)
    print("| Stage | Wall s | Imports s | Work s | Imports share |")
    print("|---|---:|---:|---:|---:|")
    for name, wall, imports in rows:
        print(f"| `{name}` | {wall:.1f} | {imports:.1f} | {wall - imports:.1f} | {imports / wall:.0%} |")
    imported = sum(imports for _, _, imports in rows)
    print(f"| all {len(rows)} | {total:.1f} | {imported:.1f} | {total - imported:.1f} | {imported / total:.0%} |")


if __name__ == "__main__":
    main()
