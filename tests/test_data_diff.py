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


def test_a_folder_of_your_digits_added_is_listed_by_path_with_each_models_answers_on_it():
    mine = catalog([("own:bob/2/a.png", "y", "2", "own"), ("own:alice/7/b.png", "x", "7", "own")])
    mine["writer"] = ["bob", "alice"]
    new = pd.concat([OLD, mine], ignore_index=True)
    changes = data_diff.diff_catalogs(OLD, new)
    assert changes[["id", "source", "change", "split_new"]].values.tolist() == [
        ["own:alice/7/b.png", "own", "added", "own"],
        ["own:bob/2/a.png", "own", "added", "own"],
    ]
    evaluations = {
        "reads_both": {"own:alice/7/b.png": 7, "own:bob/2/a.png": 2},
        "misreads_bob": {"own:alice/7/b.png": 7, "own:bob/2/a.png": 3},
        "before_the_slice": None,
    }
    # No test example changed: no paired table, only the slice's.
    assert data_diff.answers_on_changes(changes, OLD, new, {"m": (np.array([4, 5, 6]), np.array([4, 5, 6]))}) == []
    own = data_diff.answers_on_own(changes, new, evaluations)
    assert own == [data_diff.OwnAnswers("misreads_bob", 2, 1), data_diff.OwnAnswers("reads_both", 2, 2)]
    markdown = data_diff.diff_markdown(changes, [], "main", "head", len(new), None, own)
    assert "| added | own | 2 | 1 | 1 |" in markdown and "| `own:bob/2/a.png` | added | - → own | - → 2 |" in markdown
    assert "Each model on the 2 digits of your writers" in markdown and "| misreads_bob | 1 of 2 | 50% |" in markdown


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


def test_the_sheet_shows_your_digits_as_preprocess_normalises_them(in_tmp_project: Path):
    from mnist_zoo.data.digits import load_digit
    from tests.test_own_digits import draw_digit

    path = draw_digit(Path("digits/alice/4/scan.png"), 4, (150, 200))
    found = data_diff_tool.raw_images(["own:alice/4/scan.png", "own:alice/4/gone.png"])
    assert list(found) == ["own:alice/4/scan.png"]
    np.testing.assert_array_equal(found["own:alice/4/scan.png"], np.round(load_digit(path)).astype(np.uint8))
    # A revision's own.npz holds them as its preprocess normalised them (the files may be gone since).
    write_prepared(Path("data/prepared"))
    with np.load("data/prepared/own.npz") as own:
        expected = dict(zip(own["ids"].tolist(), own["images"], strict=True))
    found = data_diff_tool.own_images_at(None)
    assert found.keys() == expected.keys() and all((found[i] == expected[i]).all() for i in expected)
    assert data_diff.short_id("own:alice/4/20261207T163549-810.png") == "own:alice/4/…-810.png"
