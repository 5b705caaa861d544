"""The pull-request comment: the paired test and the seed band for every variant, the profile it
compared, the leaderboard and the plots."""

import subprocess
import sys
from pathlib import Path

from mnist_zoo.experiments import comparison
from mnist_zoo.tools import pr_comment
from tests.conftest import write_side

LEADERBOARD = "# Leaderboard (MNIST test set)\n\n| Variant | Test accuracy |\n|---|---:|\n| flagship | 99.52% |\n"


def test_every_variant_has_its_paired_test_band_and_verdict(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("results").mkdir()
    Path("results/leaderboard.png").write_bytes(b"png")
    band = comparison.Band(0.99, 0.0005, 5, stale=False)
    verdicts = [
        comparison.judge("flagship", 0.99, 0.98, comparison.McNemar(100, 0, 1.6e-30), band, 0.05, 2),
        comparison.judge("lenet5", 0.98, 0.9805, comparison.McNemar(3, 8, 0.23), None, 0.05, 2),
        comparison.judge("chollet", 0.99, 0.99, None, band._replace(stale=True), 0.05, 2),
    ]
    markdown = pr_comment.comment_markdown(verdicts, LEADERBOARD, "main", "pull_request", band_sds=2, significance=0.05)
    assert "## Model report against `main`" in markdown and "Compared: the pull-request profile" in markdown
    assert (
        "| flagship | 99.00% -> 98.00% (-1.00 pp) | 100 / 0, p = 1.6e-30 | outside ±2 sd (0.05 pp over 5 seeds) "
        "| REGRESSION |"
    ) in markdown
    assert "| lenet5 | 98.00% -> 98.05% (+0.05 pp) | 3 / 8, p = 0.23 | not measured | better |" in markdown
    assert "| chollet | 99.00% -> 99.00% (+0.00 pp) | no predictions to pair |" in markdown
    assert "stale: the recipe changed" in markdown and "p < 0.05" in markdown
    assert "### Leaderboard (MNIST test set)" in markdown and "| flagship | 99.52% |" in markdown
    assert "![leaderboard](results/leaderboard.png)" in markdown and "per_class_f1" not in markdown  # not there


def test_the_console_script_compares_a_revision_with_the_workspace(paired_runs: Path):
    write_side({"lenet5": 100, "flagship": 200})
    Path("results/leaderboard.md").write_text(LEADERBOARD)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mnist-pr-comment")), "--base", "HEAD", "--base-name", "main"],
        cwd=paired_runs,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Compared: full runs of every recipe" in result.stdout
    assert "| flagship | 99.00% -> 98.00% (-1.00 pp) | 100 / 0, p = 1.58e-30 | outside" in result.stdout
    assert "| lenet5 | 99.00% -> 99.00% (+0.00 pp) | 0 / 0, p = 1 | inside ±2 sd" in result.stdout
