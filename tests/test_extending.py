"""docs/extending.md's checklists, carried out on a tiny project: a new model family (one builder, one
entry in schema.FAMILIES, one params entry) trains and evaluates through the stages; a new summary
figure registered once in leaderboard.FIGURES reaches the summary, the leaderboard (the README's
table) and the page's data.json. The edits the checklists make to the package's files are made here
in memory (monkeypatch), so the real files stay as they are."""

import json
from pathlib import Path

import keras
import pytest
from keras import layers

from mnist_zoo import schema
from mnist_zoo.config import INPUT_SHAPE, NUM_CLASSES
from mnist_zoo.models import families
from mnist_zoo.reporting import leaderboard, site
from stages import evaluate, report, train
from tests.conftest import trained_and_exported, update_params


def build_widenet(units: int, activation: str = "relu") -> keras.Model:
    """A new family, as a newcomer would write it: one hidden layer on the flattened image."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(units, activation=activation),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


@pytest.fixture
def with_widenet(monkeypatch: pytest.MonkeyPatch, tiny_project: Path) -> Path:
    """The family checklist's three steps: the builder in mnist_zoo/models/families.py, its entry in
    schema.FAMILIES, a variant of it in params.yaml (and train.variants)."""
    monkeypatch.setattr(families, "build_widenet", build_widenet, raising=False)
    monkeypatch.setitem(
        schema.FAMILIES,
        "widenet",
        schema.Family(
            {"units": schema.POSITIVE, "activation": schema.one_of(*schema.ACTIVATIONS)}, frozenset({"activation"})
        ),
    )
    recipe = {"family": "widenet", "units": 32, "optimizer": {"name": "adam"}, "batch_size": 32, "epochs": 2}
    update_params(
        tiny_project / "params.yaml", {"variants.widenet": recipe, "train.variants": {"widenet": "variants.widenet"}}
    )
    return tiny_project


def test_a_new_family_is_one_builder_one_families_entry_and_one_params_entry(with_widenet: Path):
    summary = trained_and_exported("widenet")
    assert summary["parameters"] == 784 * 32 + 32 + 32 * NUM_CLASSES + NUM_CLASSES
    assert Path("data/models/widenet.keras").is_file()
    evaluation = evaluate.main("widenet")
    assert 0 <= evaluation["accuracy"] <= 1
    assert json.loads(Path("metrics/evaluation/widenet.json").read_text())["parameters"] == summary["parameters"]


def test_a_families_entry_refuses_what_its_builder_would_not_take(with_widenet: Path):
    """The schema knows the new family from its entry alone: a wrong value names the key."""
    update_params(with_widenet / "params.yaml", {"variants.widenet.units": 0})
    with pytest.raises(ValueError, match=r"variants\.widenet\.units is 0"):
        train.main("widenet")


def test_a_new_figure_registered_once_reaches_the_summary_the_leaderboard_and_the_page(
    monkeypatch: pytest.MonkeyPatch, tiny_project: Path
):
    """One entry in leaderboard.FIGURES (here each model's test log loss): results/metrics.json,
    results/leaderboard.md (the README's table is leaderboard_table's) and data.json's columns, with
    its header and format, carry it; nothing else is edited."""
    figure = leaderboard.Figure("log_loss", "Log loss", "score", lambda results: results.evaluation["loss"])
    monkeypatch.setattr(leaderboard, "FIGURES", (*leaderboard.FIGURES, figure))
    update_params(tiny_project / "params.yaml", {"train.variants": {"lenet5": "variants.lenet5"}})
    trained_and_exported("lenet5")
    evaluation = evaluate.main("lenet5")
    report.main()

    summary = json.loads(Path("results/metrics.json").read_text())
    assert summary["log_loss"] == {"lenet5": evaluation["loss"]}
    lines = Path("results/leaderboard.md").read_text().splitlines()
    first = lines.index(next(line for line in lines if line.startswith("| Variant |")))
    header, _, row = lines[first : first + 3]
    assert header.endswith("| Log loss |") and row.endswith(f"| {evaluation['loss']:.4f} |")
    assert leaderboard.leaderboard_table(summary).splitlines()[0] == header

    cards = {"lenet5": Path("results/cards/lenet5.md").read_text()}
    data = site.page_data(["lenet5"], summary, {"lenet5": None}, cards, None, None, {"lenet5": 1})
    assert data["columns"][-1] == {"key": "log_loss", "header": "Log loss", "format": "score"}
    assert data["variants"][0]["log_loss"] == evaluation["loss"]
