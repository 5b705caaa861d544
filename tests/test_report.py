"""report: the leaderboard, its Markdown, the overlaid training curves and the model cards."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_zoo.files import write_json
from mnist_zoo.reporting import cards, leaderboard, zoo_figures
from stages import evaluate, report
from tests.conftest import trained_and_exported, update_params


def evaluation(accuracy: float, seconds: float) -> dict:
    return {
        "accuracy": accuracy,
        "f1_macro": accuracy - 0.001,
        "parameters": 1000,
        "training_seconds": seconds,
        "epochs_run": 3,
        "images_per_second": 5000.0,
        "slices": {
            "groups": {"employees": {"accuracy": accuracy + 0.004}, "students": {"accuracy": accuracy - 0.004}},
            "published_labels": {"accuracy": accuracy - 0.001},
        },
    }


def project_metrics(evaluations: dict[str, dict], reported: dict[str, float | None]) -> dict:
    """results/metrics.json as report writes it for these evaluations (no robustness stage ran)."""
    records = {
        name: leaderboard.figures(leaderboard.Results(evaluations[name], None, {"reported_accuracy": reported[name]}))
        for name in evaluations
    }
    return leaderboard.summary(records, {name: name for name in evaluations})


def test_leaderboard_sorts_by_accuracy_and_keeps_reported_figures():
    table = leaderboard.leaderboard(
        project_metrics(
            {"a": evaluation(0.97, 10), "b": evaluation(0.99, 50), "c": evaluation(0.98, 5)},
            {"a": 0.95, "b": None, "c": 0.99},
        )
    )
    assert table["variant"].tolist() == ["b", "c", "a"]
    assert table.loc[table["variant"] == "a", "reported_accuracy"].item() == 0.95


def test_leaderboard_plot_labels_do_not_overlap():
    # Two variants of near-identical accuracy and time, as adam_5x5 and conv2_dropout were.
    names = ["adam_5x5", "conv2_dropout", "chollet", "lenet5"]
    accuracies_and_seconds = [(0.9905, 78), (0.9907, 90), (0.9913, 41), (0.9829, 81)]
    table = leaderboard.leaderboard(
        project_metrics(
            {name: evaluation(*figures) for name, figures in zip(names, accuracies_and_seconds, strict=True)},
            dict.fromkeys(names),
        )
    )
    figure = zoo_figures.plot_leaderboard(table)
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in figure.axes[0].texts]
    assert len(boxes) == 4
    assert not any(one.overlaps(other) for index, one in enumerate(boxes) for other in boxes[index + 1 :])


def test_markdown_formats_every_column():
    markdown = leaderboard.leaderboard_markdown(
        project_metrics({"lenet5": evaluation(0.98765, 123.4)}, {"lenet5": None})
    )
    header, rule, row = markdown.strip().splitlines()[-3:]
    assert header == (
        "| Variant | Test accuracy | Employees | Students | Published labels | Your writers | Macro F1 | Post reported "
        "| ECE | Corrupted | Other writers | Not a digit (AUROC) | Parameters | Training s | Epochs | Images/s |"
    )
    # No robustness ran.
    assert row == (
        "| lenet5 | 98.77% | 99.17% | 98.37% | 98.67% | - | 0.9867 | - | - | - | - | - | 1,000 | 123 | 3 | 5,000 |"
    )


@pytest.mark.slow
def test_main_overlays_every_variants_curves(tiny_project: Path):
    update_params(tiny_project / "params.yaml", {"train.variants": {"lenet5": "variants.lenet5", "flagship": "model"}})
    for name in ("lenet5", "flagship"):
        trained_and_exported(name)
        evaluate.main(name)
    table = report.main()
    assert set(table["variant"]) == {"lenet5", "flagship"}
    assert table.loc[table["variant"] == "lenet5", "reported_accuracy"].item() == pytest.approx(0.9804)
    curves = pd.read_csv("results/training_curves.csv")
    assert list(curves.columns) == ["variant", "split", "epoch", "loss", "accuracy"]
    assert len(curves) == 2 * 2 * 2  # variants x splits x epochs
    assert curves.groupby(["variant", "split"])["epoch"].apply(list).tolist() == [[1, 2]] * 4
    markdown = Path("results/leaderboard.md").read_text()
    assert "| lenet5 |" in markdown and "| flagship |" in markdown and "98.04%" in markdown
    for png in ("training_curves", "leaderboard", "per_class_f1"):
        assert Path(f"results/{png}.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads(Path("results/metrics.json").read_text())
    evaluations = {
        name: json.loads(Path(f"metrics/evaluation/{name}.json").read_text()) for name in ("lenet5", "flagship")
    }
    # First the short labels' test error in percent, in train.variants order (dvc exp show's first
    # columns), then each figure per variant under its full name.
    assert list(summary) == ["lnt5", "flag", *(figure.key for figure in leaderboard.FIGURES)]
    assert summary["lnt5"] == round(100 * (1 - evaluations["lenet5"]["accuracy"]), 2)
    assert summary["flag"] == round(100 * (1 - evaluations["flagship"]["accuracy"]), 2)
    for figure, key in (
        ("accuracy", "accuracy"),
        ("f1_macro", "f1_macro"),
        ("training_seconds", "training_seconds"),
        ("epochs", "epochs_run"),
    ):
        assert summary[figure] == {name: evaluations[name][key] for name in ("lenet5", "flagship")}
    assert summary["ece"] == {name: evaluations[name]["calibration"]["ece"] for name in ("lenet5", "flagship")}
    assert summary["ood_auroc"] == {}  # no robustness stage ran here: left out, not null
    # Your writers' ten digits (own.npz): each model's share and answers, the card's line, their sheet.
    with np.load("data/prepared/own.npz") as own:
        own_labels, own_ids = own["labels"], own["ids"]
    for name in ("lenet5", "flagship"):
        read = evaluations[name]["slices"]["own"]
        assert read["images"] == 10 and set(read["answers"]) == set(own_ids.tolist())
        right = sum(read["answers"][i] == label for i, label in zip(own_ids, own_labels, strict=True))
        assert summary["own_accuracy"][name] == read["accuracy"] == right / 10
    assert f"your writers' digits (10, digits/): accuracy {summary['own_accuracy']['lenet5']:.2%}" in (
        Path("results/cards/lenet5.md").read_text()
    )
    assert Path("results/own_digits.png").read_bytes().startswith(b"\x89PNG")

    card = Path("results/cards/lenet5.md").read_text()
    evaluation = json.loads(Path("metrics/evaluation/lenet5.json").read_text())
    assert card.startswith("# Model card: lenet5")
    assert "Conv 6@5x5 tanh, max-pool 2x2, Conv 16@5x5 tanh, max-pool 2x2, Dense 120 tanh, Dense 84 tanh" in card
    assert f"{evaluation['parameters']:,} parameters" in card and f"accuracy {evaluation['accuracy']:.2%}" in card
    assert "its post reported 98.04%" in card and "optimizer:" in card
    assert "machine: " in card and "cores" in card and "not recorded" not in card
    assert "random shifts up to 10%, Conv 4@3x3" in Path("results/cards/flagship.md").read_text()
    assert "## Calibration (test set)" in card and "## Robustness" not in card

    # With the robustness stages' figures, the summary, leaderboard, cards and heat map carry them.
    for name, auroc in (("lenet5", 0.991), ("flagship", 0.997)):
        write_json(Path(f"metrics/robustness/{name}.json"), robustness_figures(auroc))
    report.main()
    summary = json.loads(Path("results/metrics.json").read_text())
    assert summary["ood_auroc"] == {"lenet5": 0.991, "flagship": 0.997}
    assert summary["corruption_accuracy"] == {"lenet5": 0.85, "flagship": 0.85}
    assert "| 85.00% | 90.00% | 0.9910 |" in Path("results/leaderboard.md").read_text()
    card = Path("results/cards/lenet5.md").read_text()
    assert "## Robustness" in card and "worst: rotate 80.00%, shot noise 90.00%" in card
    assert "AUROC 0.9910 against Fashion-MNIST" in card
    assert Path("results/robustness.png").read_bytes().startswith(b"\x89PNG")


def robustness_figures(auroc: float) -> dict:
    """A robustness stage's output, shaped as stages/robustness.py writes it."""
    ood = {
        "images": 10,
        "auroc": auroc,
        "auroc_confidence": 0.9,
        "auroc_reconstruction": 0.95,
        "auroc_neighbours": 0.9,
        "fpr_at_tpr": 0.01,
        "flagged": 0.98,
    }
    return {
        "clean_accuracy": 0.97,
        "corruption_accuracy": {"rotate": 0.8, "shot_noise": 0.9},
        "mean_corruption_accuracy": 0.85,
        "severity": 3,
        "other_writers": {"source": "sklearn.datasets.load_digits", "images": 1797, "accuracy": 0.9},
        "not_a_digit": {
            "true_positive_rate": 0.95,
            "threshold": {"confidence": 0.9},
            "test_digits_rejected": 0.04,
            "fashion_mnist": ood,
            "noise": {**ood, "auroc": 1.0, "flagged": 1.0},
        },
    }


def test_card_names_the_weakest_digits_and_the_most_confused_pairs(tmp_path: Path):
    confusion = tmp_path / "confusion.csv"
    confusion.write_text("actual,predicted\n" + "4,9\n" * 3 + "7,2\n" * 2 + "3,5\n" + "1,1\n" * 5)
    assert cards.most_confused(confusion) == [(4, 9, 3), (7, 2, 2), (3, 5, 1)]
    per_class = {str(digit): {"precision": 0.99, "recall": 0.99, "f1": 0.99, "support": 10} for digit in range(10)}
    per_class["9"]["f1"], per_class["4"]["f1"], per_class["2"]["f1"] = 0.95, 0.96, 0.97
    evaluation = {"per_class": per_class, "parameters": 44426, "accuracy": 0.98, "f1_macro": 0.98, "loss": 0.05}
    card = cards.model_card(
        "lenet5",
        {"family": "convnet", "conv_layers": [], "dense_layers": [], "activation": "tanh"},
        evaluation,
        {"training_seconds": 12.3, "epochs_run": 3},
        cards.most_confused(confusion),
        "data/prepared md5 abc.dir (3 files, dvc.lock)",
    )
    assert (
        "weakest digits (F1, precision, recall): 9: 0.9500" in card and "; 4: 0.9600" in card and "; 2: 0.9700" in card
    )
    assert "most confused (true -> predicted: images): 4 -> 9: 3; 7 -> 2: 2; 3 -> 5: 1" in card
    assert "data/prepared md5 abc.dir" in card and "machine: not recorded" in card


def test_data_version_is_the_lock_files_hash_of_the_tensors_the_model_trained_on(tmp_path: Path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(
        "schema: '2.0'\nstages:\n  preprocess:\n    outs:\n    - path: data/prepared\n"
        "      md5: 0123abc.dir\n      nfiles: 3\n"
        "  train@lenet5:\n    deps:\n    - path: data/prepared/train.npz\n      md5: aa11\n"
        "    - path: data/prepared/validation.npz\n      md5: bb22\n    - path: stages/train.py\n      md5: cc33\n"
    )
    # The files a model trained on, from its own stage; a variant without one (a transfer variant),
    # the prepared tensors as a whole.
    assert cards.prepared_data_version("lenet5", lock) == (
        "data/prepared/train.npz md5 aa11 and data/prepared/validation.npz md5 bb22 (train@lenet5 in dvc.lock)"
    )
    assert cards.prepared_data_version("vgg16_transfer", lock) == "data/prepared md5 0123abc.dir (3 files, dvc.lock)"
    assert cards.prepared_data_version("lenet5", tmp_path / "missing.lock").startswith("unknown")


def test_short_labels_fall_back_to_the_name_and_refuse_a_label_given_twice():
    assert leaderboard.short_labels(["lenet5", "new_net"], {"lenet5": "lnt5", "unused": "x"}) == {
        "lenet5": "lnt5",
        "new_net": "new_net",
    }
    with pytest.raises(ValueError, match="report.short_names gives lenet5 the label 'net', which chollet already"):
        leaderboard.short_labels(["lenet5", "chollet"], {"lenet5": "net", "chollet": "net"})
    with pytest.raises(ValueError, match="report.short_names gives lenet5 the label 'mlp', which mlp already has"):
        leaderboard.short_labels(["lenet5", "mlp"], {"lenet5": "mlp"})
    with pytest.raises(ValueError, match="the label 'epochs', which epochs already has"):  # a summary figure's key
        leaderboard.short_labels(["lenet5"], {"lenet5": "epochs"})
    assert leaderboard.error_percentages(
        {"lenet5": 0.9829, "flagship": 0.9957}, {"lenet5": "lnt5", "flagship": "flag"}
    ) == {"lnt5": 1.71, "flag": 0.43}


def reviewed(accuracy: float, published: float, as_reviewed: int, as_published: int, p_value: float) -> dict:
    figures = evaluation(accuracy, 10)
    figures["slices"]["published_labels"] = {
        "accuracy": published,
        "relabelled": 4,
        "errors_on_relabelled": 4 - as_reviewed,
        "right_only_against_published": as_published,
        "right_only_against_reviewed": as_reviewed,
        "paired_p_value": p_value,
    }
    return figures


def test_the_label_review_section_says_whether_the_order_changes_and_pairs_each_model():
    # b reads the four relabelled digits as reviewed and overtakes a, which reads them as published.
    evaluations = {
        "a": reviewed(0.9900, 0.9904, 0, 4, 0.125),
        "b": reviewed(0.9902, 0.9898, 4, 0, 0.125),
        "c": reviewed(0.9800, 0.9800, 2, 2, 1.0),
    }
    markdown = leaderboard.label_review_markdown(evaluations, excluded=1)
    assert "relabels 4 test digits and excludes 1" in markdown
    assert "the order changes: a 1 → 2, b 2 → 1." in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| Variant")]
    assert rows == [
        "| b | 2 → 1 | 98.98% | 99.02% | +0.04 | 4 / 0 | 0.125 |",
        "| a | 1 → 2 | 99.04% | 99.00% | -0.04 | 0 / 4 | 0.125 |",
        "| c | 3 | 98.00% | 98.00% | +0.00 | 2 / 2 | 1 |",
    ]
    same = {name: reviewed(accuracy, accuracy - 0.0002, 2, 0, 0.5) for name, accuracy in (("a", 0.99), ("b", 0.98))}
    assert "the order is unchanged." in leaderboard.label_review_markdown(same, excluded=0)
    unreviewed = {"a": reviewed(0.99, 0.99, 0, 0, 1.0)}
    unreviewed["a"]["slices"]["published_labels"]["relabelled"] = 0
    assert "No test label is corrected" in leaderboard.label_review_markdown(unreviewed, excluded=0)
    # Evaluations from before the paired counts: no section rather than a wrong one.
    assert leaderboard.label_review_markdown({"a": evaluation(0.99, 10)}, excluded=0) == ""
