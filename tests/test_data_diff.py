"""The data diff: two catalogs compared example by example, each model's answers on the changed
examples, and the comment's Data section."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_zoo.data.catalog import read_catalog
from mnist_zoo.experiments import data_diff
from mnist_zoo.tools import data_diff as data_diff_tool
from tests.conftest import idx_bytes, synthetic_digits, write_prepared


def catalog(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """A catalog of (id, sha256, label, split) rows, published label = label."""
    return pd.DataFrame(
        [
            {"id": i, "sha256": sha, "published": label, "label": label, "writer": 1, "group": "employees", "split": s}
            for i, sha, label, s in rows
        ]
    )


OLD = catalog(
    [
        ("train:0", "a", "1", "train"),
        ("train:1", "b", "2", "train"),
        ("train:2", "c", "3", "unused"),
        ("test:0", "d", "4", "test"),
        ("test:1", "e", "5", "test"),
        ("test:2", "f", "6", "test"),
    ]
)


def changed(old: pd.DataFrame = OLD, **edits: dict[str, str]) -> pd.DataFrame:
    new = old.copy()
    for identifier, values in edits.items():
        for column, value in values.items():
            new.loc[new["id"] == identifier.replace("_", ":"), column] = value
    return new


def test_a_relabel_an_addition_a_removal_and_a_move_are_each_found_once():
    new = changed(
        train_0={"split": "validation"},
        train_2={"split": "train"},
        test_0={"label": "9"},
        test_1={"split": "excluded", "label": "exclude"},
    )
    changes = data_diff.diff_catalogs(OLD, new)
    assert changes[["id", "change", "split_old", "split_new", "label_old", "label_new"]].values.tolist() == [
        ["train:2", "added", "unused", "train", "-", "3"],
        ["test:1", "removed", "test", "excluded", "5", "-"],
        ["train:0", "moved", "train", "validation", "1", "1"],
        ["test:0", "relabelled", "test", "test", "4", "9"],
    ]
    counts = data_diff.change_counts(changes)
    assert counts.loc[("relabelled", "test"), "examples"] == 1 and counts.loc[("relabelled", "test"), "9"] == 1
    assert counts.loc[("removed", "test"), "5"] == 1  # the side that still has a label
    assert data_diff.diff_catalogs(OLD, OLD.copy()).empty


def test_a_new_source_and_a_changed_image_are_found():
    new = pd.concat([OLD, catalog([("mine:0", "z", "7", "train")])], ignore_index=True)
    new.loc[new["id"] == "test:2", "sha256"] = "g"
    changes = data_diff.diff_catalogs(OLD, new)
    assert changes[["id", "source", "change"]].values.tolist() == [
        ["mine:0", "mine", "added"],
        ["test:2", "test", "image_changed"],
    ]


def test_each_models_answers_on_the_changed_test_examples_are_judged_by_each_sides_labels():
    new = changed(test_0={"label": "9"}, test_2={"sha256": "g"})
    changes = data_diff.diff_catalogs(OLD, new)
    # test:0 (4 -> 9) and test:2 (an image changed) are in both test sets, at rows 0 and 2.
    predictions = {
        "reads_9": (np.array([4, 5, 6]), np.array([9, 5, 0])),  # right -> right on test:0, right -> wrong on test:2
        "reads_4": (np.array([4, 5, 6]), np.array([4, 5, 6])),  # the same answers: test:0 turns wrong
        "unrun": (None, np.array([4, 5, 6])),
    }
    answers = data_diff.answers_on_changes(changes, OLD, new, predictions)
    assert answers == [
        data_diff.Answers("reads_4", 2, right_before=2, right_after=1, now_wrong=1, now_right=0),
        data_diff.Answers("reads_9", 2, right_before=2, right_after=1, now_wrong=1, now_right=0),
    ]
    markdown = data_diff.diff_markdown(changes, answers, "main", "this branch", len(new), "sheet.png")
    assert "`this branch` against `main`: 2 examples changed." in markdown
    assert "| `test:0` | relabelled | test → test | 4 → 9 |" in markdown
    assert "| reads_9 | 2 | 1 | 1 | 0 |" in markdown and "![changed examples](sheet.png)" in markdown


def test_no_data_change_is_one_line():
    assert data_diff.diff_markdown(data_diff.diff_catalogs(OLD, OLD), [], "main", "head", 6, None) == (
        "### Data\n\nNo data change: `main` and `head` hold the same 6 examples.\n"
    )


def test_the_command_diffs_a_revision_against_the_workspace_with_a_contact_sheet(
    in_tmp_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    write_prepared(Path("data/prepared"))
    workspace = read_catalog(Path("data/prepared/catalog.csv"))
    old = workspace.copy()
    old.loc[old["id"] == "test:3", "label"] = str((int(old.loc[old["id"] == "test:3", "label"].item()) + 1) % 10)
    monkeypatch.setattr(data_diff_tool, "read_catalog_at", lambda revision: old if revision == "v1" else workspace)
    raw = Path("data/raw")
    raw.mkdir(parents=True)
    for source, count in (("train", 260), ("test", 100)):
        images, labels = synthetic_digits(count, seed=3)
        names = data_diff_tool.IDX_FILES[source]
        (raw / names[0]).write_bytes(gzip.compress(idx_bytes(images)))
        (raw / names[1]).write_bytes(gzip.compress(idx_bytes(labels)))
    data_diff_tool.main(["v1", "--sheet", "sheet.png", "--csv", "changes.csv"])
    out = capsys.readouterr().out
    assert "`workspace` against `v1`: 1 example changed." in out and "| `test:3` | relabelled |" in out
    assert Path("sheet.png").read_bytes().startswith(b"\x89PNG")
    assert pd.read_csv("changes.csv")["id"].tolist() == ["test:3"]


def test_an_unreadable_revision_names_it_and_the_fix(in_tmp_project: Path):
    with pytest.raises(SystemExit, match="Cannot read data/prepared/catalog.csv at revision 'no-such-rev'"):
        data_diff_tool.main(["no-such-rev"])
