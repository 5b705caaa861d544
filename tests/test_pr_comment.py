"""The pull-request comment's Markdown, from real-shaped `dvc metrics diff --json` output."""

import json
from pathlib import Path

from mnist_zoo import pr_comment

DIFF = {
    "metrics/evaluation/flagship.json": {
        "accuracy": {"old": 0.9931, "new": 0.9952, "diff": 0.0021},
        "f1_macro": {"old": 0.9930, "new": 0.9951, "diff": 0.0021},
        "per_class.7.f1": {"old": 0.99, "new": 0.995, "diff": 0.005},
        "per_class.10.f1": {"old": 0.5, "new": 0.6, "diff": 0.1},
        "per_class.2.recall": {"old": 0.98, "new": 0.99, "diff": 0.01},
        "training_seconds": {"old": 100, "new": 120, "diff": 20},
    },
    "metrics/evaluation/lenet5.json": {},
    "metrics/training/flagship/metrics.json": {"step": {"old": 3, "new": 4, "diff": 1}},
}
LEADERBOARD = "# Leaderboard (MNIST test set)\n\n| Variant | Test accuracy |\n|---|---:|\n| flagship | 99.52% |\n"


def test_only_changed_evaluations_become_rows_with_digits_in_numeric_order():
    rows = pr_comment.summarise_diff(DIFF)
    assert [row["variant"] for row in rows] == ["flagship"]
    assert rows[0]["per_class_changed"] == ["2", "7", "10"]
    assert rows[0]["accuracy"] == (0.9931, 0.9952, 0.0021)
    assert rows[0]["loss"] == (None, None, None)


def test_comment_shows_changes_leaderboard_and_existing_plots(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("plots").mkdir()
    Path("plots/leaderboard.png").write_bytes(b"png")
    markdown = pr_comment.comment_markdown(
        DIFF, LEADERBOARD, "main", plots=("plots/leaderboard.png", "plots/missing.png")
    )
    assert "## Model report against `main`" in markdown
    assert "| flagship | 99.31% -> 99.52% (+0.21 pp) | 0.9930 -> 0.9951 (+0.0021) | unchanged | 2, 7, 10 |" in markdown
    assert "### Leaderboard (MNIST test set)" in markdown and "| flagship | 99.52% |" in markdown
    assert "![leaderboard](plots/leaderboard.png)" in markdown and "missing.png" not in markdown


def test_no_change_says_so(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "diff.json").write_text(json.dumps({"metrics/evaluation/lenet5.json": {}}))
    (tmp_path / "leaderboard.md").write_text(LEADERBOARD)
    pr_comment.main([str(tmp_path / "diff.json"), "--leaderboard", str(tmp_path / "leaderboard.md"), "--base", "main"])
    assert "No evaluation metric changed." in capsys.readouterr().out


def test_a_drop_is_signed():
    assert pr_comment.format_change(0.99, 0.98, -0.01, percent=True) == "99.00% -> 98.00% (-1.00 pp)"
