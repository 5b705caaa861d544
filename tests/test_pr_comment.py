"""The pull-request comment's Markdown, from real-shaped `dvc metrics diff --json` output of the
summary (results/metrics.json)."""

import json
from pathlib import Path

from mnist_zoo import pr_comment

DIFF = {
    "results/metrics.json": {
        "flag": {"old": 0.69, "new": 0.48, "diff": -0.21},  # a short label's error: not a row of its own
        "accuracy.flagship": {"old": 0.9931, "new": 0.9952, "diff": 0.0021},
        "f1_macro.flagship": {"old": 0.9930, "new": 0.9951, "diff": 0.0021},
        "training_seconds.flagship": {"old": 100.5, "new": 1220.25, "diff": 1119.75},
        "accuracy.conv2_dropout": {"old": 0.9910, "new": 0.9893, "diff": -0.0017},
    },
}
LEADERBOARD = "# Leaderboard (MNIST test set)\n\n| Variant | Test accuracy |\n|---|---:|\n| flagship | 99.52% |\n"


def test_each_variant_with_a_changed_figure_is_a_row_in_name_order():
    rows = pr_comment.summarise_diff(DIFF)
    assert [row["variant"] for row in rows] == ["conv2_dropout", "flagship"]
    assert rows[1]["accuracy"] == (0.9931, 0.9952, 0.0021)
    assert rows[1]["epochs"] == (None, None, None)
    assert rows[0]["f1_macro"] == (None, None, None)


def test_comment_shows_changes_leaderboard_and_existing_plots(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("results").mkdir()
    Path("results/leaderboard.png").write_bytes(b"png")
    markdown = pr_comment.comment_markdown(DIFF, LEADERBOARD, "main")
    assert "## Model report against `main`" in markdown
    assert "| Variant | Test accuracy | Macro F1 | Training s | Epochs |" in markdown
    assert (
        "| flagship | 99.31% -> 99.52% (+0.21 pp) | 0.9930 -> 0.9951 (+0.0021) | 100 -> 1,220 (+1,120) | unchanged |"
        in markdown
    )
    assert "| conv2_dropout | 99.10% -> 98.93% (-0.17 pp) | unchanged | unchanged | unchanged |" in markdown
    assert "### Leaderboard (MNIST test set)" in markdown and "| flagship | 99.52% |" in markdown
    assert "![leaderboard](results/leaderboard.png)" in markdown and "per_class_f1" not in markdown  # not there


def test_no_change_says_so(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "diff.json").write_text(json.dumps({"results/metrics.json": {}}))
    (tmp_path / "leaderboard.md").write_text(LEADERBOARD)
    pr_comment.main([str(tmp_path / "diff.json"), "--leaderboard", str(tmp_path / "leaderboard.md"), "--base", "main"])
    assert "No variant's test figures changed." in capsys.readouterr().out


def test_a_drop_is_signed():
    assert pr_comment.format_change(0.99, 0.98, -0.01, "percent") == "99.00% -> 98.00% (-1.00 pp)"
