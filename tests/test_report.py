"""report: the leaderboard, its Markdown, and the overlaid training curves."""

from pathlib import Path

import pandas as pd
import pytest

from stages import evaluate, report, train
from tests.conftest import update_params


def evaluation(accuracy: float, seconds: float) -> dict:
    return {"accuracy": accuracy, "f1_macro": accuracy - 0.001, "parameters": 1000,
            "training_seconds": seconds, "epochs_run": 3, "images_per_second": 5000.0}


def test_leaderboard_sorts_by_accuracy_and_keeps_reported_figures():
    table = report.leaderboard({"a": evaluation(0.97, 10), "b": evaluation(0.99, 50), "c": evaluation(0.98, 5)},
                               {"a": 0.95, "b": None, "c": 0.99})
    assert table["variant"].tolist() == ["b", "c", "a"]
    assert table.loc[table["variant"] == "a", "reported_accuracy"].item() == 0.95


def test_leaderboard_plot_labels_do_not_overlap():
    # Two variants of near-identical accuracy and time, as adam_5x5 and conv2_dropout were.
    table = report.leaderboard({"adam_5x5": evaluation(0.9905, 78), "conv2_dropout": evaluation(0.9907, 90),
                                "chollet": evaluation(0.9913, 41), "lenet5": evaluation(0.9829, 81)},
                               dict.fromkeys(["adam_5x5", "conv2_dropout", "chollet", "lenet5"]))
    figure = report.plot_leaderboard(table)
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in figure.axes[0].texts]
    assert len(boxes) == 4
    assert not any(one.overlaps(other) for index, one in enumerate(boxes) for other in boxes[index + 1:])


def test_markdown_formats_every_column():
    table = report.leaderboard({"lenet5": evaluation(0.98765, 123.4)}, {"lenet5": None})
    markdown = report.leaderboard_markdown(table)
    header, rule, row = markdown.strip().splitlines()[-3:]
    assert header.startswith("| Variant | Test accuracy | Macro F1 | Post reported")
    assert row == "| lenet5 | 98.77% | 0.9867 | - | 1,000 | 123 | 3 | 5,000 |"


def test_main_overlays_every_variants_curves(tiny_project: Path):
    update_params(tiny_project / "params.yaml", {"train.variants": {"lenet5": "variants.lenet5",
                                                                    "flagship": "model"}})
    for name in ("lenet5", "flagship"):
        train.main(name)
        evaluate.main(name)
    table = report.main()
    assert set(table["variant"]) == {"lenet5", "flagship"}
    assert table.loc[table["variant"] == "lenet5", "reported_accuracy"].item() == pytest.approx(0.9804)
    curves = pd.read_csv("plots/training_curves.csv")
    assert list(curves.columns) == ["variant", "split", "epoch", "loss", "accuracy"]
    assert len(curves) == 2 * 2 * 2  # variants x splits x epochs
    assert curves.groupby(["variant", "split"])["epoch"].apply(list).tolist() == [[1, 2]] * 4
    markdown = Path("metrics/leaderboard.md").read_text()
    assert "| lenet5 |" in markdown and "| flagship |" in markdown and "98.04%" in markdown
    for png in ("training_curves", "leaderboard", "per_class_f1"):
        assert Path(f"plots/{png}.png").read_bytes().startswith(b"\x89PNG")
