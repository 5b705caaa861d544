"""Where a non-training stage's seconds go: each stage command of dvc.yaml and ship/dvc.yaml (the
per-variant ones for one variant), run as DVC runs it, timed whole, with the share it spends
importing (`python -X importtime`: the cumulative time of every top-level import, lazy ones inside
`main` too) and the rest, its work. One run, one machine, every stage side by side.

Run after `dvc repro` (it needs every input): `python -m bench.stage_costs [--variant flagship]
[--rounds 2] [--before REV]`; prints a Markdown table (the fastest round of each). The outputs the
stages rewrite are put back afterwards (`git checkout` of the git ones, `dvc checkout --force` of
the rest), so the workspace ends as it began.

`--before REV`: the same stages as they were at git revision REV, side by side in the same run:
REV is checked out in a temporary git worktree whose DVC cache is this one's (`dvc checkout` gives
it REV's inputs), and each round runs a stage there and here one after the other, so that a change
to a stage is measured against what it replaced on the same machine at the same time.
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

PIPELINES = (Path("dvc.yaml"), Path("ship/dvc.yaml"))
TRAINING = ("train", "train_transfer", "features", "train_candidates", "fetch", "fetch_qmnist", "fetch_fashion")
Cost = tuple[float, float] | None  # (wall seconds, import seconds), None: no such stage on that side
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


def measure(command: str, root: Path = Path(".")) -> tuple[float, float]:
    """(wall seconds, import seconds) of one run of a stage command (python -m ... under importtime),
    in the project at `root` (its own stages/ and mnist_zoo/: `python -m` puts root first on the path)."""
    arguments = command.split()
    assert arguments[0] == "python", command
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments[1:]],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    wall = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"`{command}` failed in {root} ({result.returncode}):\n{result.stderr[-3000:]}")
    return wall, import_seconds(result.stderr)


def restore() -> None:
    """The outputs as committed: git's (results/, metrics/scores/), then DVC's (site/, the evaluations...)."""
    subprocess.run(["git", "checkout", "--", "results", "metrics/scores"], check=True)
    subprocess.run(["dvc", "checkout", "--force", "--quiet"], check=True)


@contextlib.contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """`revision` in a temporary git worktree, its DVC outputs checked out from this project's cache."""
    cache = subprocess.run(["dvc", "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="stage-costs-") as parent:
        tree = Path(parent) / "before"
        subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(tree), revision], check=True)
        try:
            subprocess.run(["dvc", "cache", "dir", "--local", cache], cwd=tree, check=True)
            subprocess.run(["dvc", "checkout", "--quiet"], cwd=tree, check=True)
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=True)


def fastest(command: str | None, rounds: int, root: Path) -> Cost:
    return min(measure(command, root) for _ in range(rounds)) if command else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="flagship", help="the variant of the per-variant stages")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each stage; the fastest is shown")
    parser.add_argument("--before", metavar="REV", help="also time the stages as they were at git revision REV")
    arguments = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        before_root = stack.enter_context(checked_out(arguments.before)) if arguments.before else None
        stack.callback(restore)
        now = stage_commands(arguments.variant)
        then = stage_commands(arguments.variant, before_root) if before_root else {}
        rows = []
        for name in [*now, *(name for name in then if name not in now)]:
            before = fastest(then.get(name), arguments.rounds, before_root) if before_root else None
            after = fastest(now.get(name), arguments.rounds, Path("."))
            rows.append((name, before, after))
            print(f"{name}: before {before}, now {after}", file=sys.stderr)
    print(cost_table(rows, with_before=before_root is not None))


def cost_table(rows: list[tuple[str, Cost, Cost]], with_before: bool) -> str:
    """The Markdown table: per stage its wall, import and work seconds (before and now with --before)."""

    def cells(cost: Cost) -> str:
        if cost is None:
            return "| - | - | - | - "
        wall, imports = cost
        return f"| {wall:.1f} | {imports:.1f} | {wall - imports:.1f} | {imports / wall:.0%} "

    def total(costs: list[Cost]) -> Cost:
        present = [cost for cost in costs if cost]
        return sum(wall for wall, _ in present), sum(imports for _, imports in present)

    columns = "Wall s | Imports s | Work s | Imports share"
    header = f"| Stage | {columns} |" if not with_before else f"| Stage | Before: {columns} | Now: {columns} |"
    lines = [header, "|---" + "|---:" * (8 if with_before else 4) + "|"]
    for name, before, after in rows:
        lines.append(f"| `{name}` " + (cells(before) if with_before else "") + cells(after) + "|")
    summary = cells(total([before for _, before, _ in rows])) if with_before else ""
    lines.append(f"| all {len(rows)} " + summary + cells(total([after for _, _, after in rows])) + "|")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
