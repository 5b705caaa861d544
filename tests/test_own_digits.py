"""Your own digits as a data version, on tiny synthetic MNIST: the folder read and normalised as
mnist-predict reads an image, each bad file or folder refused by name with nothing written, the
"own" split beside the MNIST splits (which stay byte for byte the same), the catalog's and the data
card's rows, `data.own_digits: train`, and the slice evaluation reports."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mnist_zoo.data import catalog, own_digits
from mnist_zoo.data.digits import ImageError, load_digit
from mnist_zoo.evaluation import slices
from mnist_zoo.reporting.cards import own_lines
from mnist_zoo.reporting.leaderboard import FIGURES, Results
from tests.conftest import update_params
from tests.test_catalog import raw, run_preprocess  # noqa: F401 - the fixture, and preprocess on it

SPLIT_FILES = ("train.npz", "validation.npz", "test.npz", "catalog.csv")


def draw_digit(path: Path, digit: int, size: tuple[int, int] = (90, 120), ink: int = 0, paper: int = 255) -> Path:
    """A digit as a person's scan might be: dark ink on light paper, any size (PNG, JPEG: by suffix)."""
    image = Image.new("L", size, paper)
    font = ImageFont.load_default(size=int(0.75 * size[1]))
    ImageDraw.Draw(image).text((size[0] / 2, size[1] / 2), str(digit), font=font, fill=ink, anchor="mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def fill_folder(root: Path, writers: dict[str, int]) -> None:
    """`count` digits per writer, labels 0, 1, 2, ... in turn; a README and DVC's files beside them."""
    for writer, count in writers.items():
        for number in range(count):
            suffix = ".jpg" if number % 3 == 2 else ".png"
            draw_digit(root / writer / str(number % 10) / f"{number:04d}{suffix}", number % 10, (80 + 7 * number, 120))
        (root / f"{writer}.dvc").write_text("outs:\n- path: " + writer + "\n")
    (root / "README.md").write_text("# Your own digits\n")
    (root / ".gitignore").write_text("".join(f"/{writer}\n" for writer in writers))


def test_the_folder_is_read_in_path_order_normalised_as_mnist_predict_reads_an_image(tmp_path: Path):
    fill_folder(tmp_path / "digits", {"bob": 4, "alice": 12})
    found = own_digits.read_own_digits(tmp_path / "digits")
    assert len(found) == 16 and found.images.shape == (16, 28, 28) and found.images.dtype == np.uint8
    assert found.ids[0] == "own:alice/0/0000.png" and found.ids[-1] == "own:bob/3/0003.png"
    assert list(found.writers).count("alice") == 12
    for identifier, image, label in zip(found.ids, found.images, found.labels, strict=True):
        path = tmp_path / "digits" / identifier.removeprefix("own:")
        assert int(path.parent.name) == label
        np.testing.assert_array_equal(image, np.round(load_digit(path)).astype(np.uint8))
    assert len(own_digits.read_own_digits(tmp_path / "absent")) == 0


@pytest.mark.parametrize(
    "make, named, says",
    [
        (lambda root: (root / "alice" / "three").mkdir(parents=True), "alice/three", "folders named 0-9"),
        (lambda root: (root / "alice" / "12").mkdir(parents=True), "alice/12", "folders named 0-9"),
        (lambda root: (root / "loose.png").write_bytes(b"x"), "loose.png", "writer's folder"),
        (
            lambda root: (root / "alice" / "3").mkdir(parents=True) or (root / "alice/3/notes.txt").write_text("hi"),
            "notes.txt",
            "not an image",
        ),
        (
            lambda root: (
                (root / "alice" / "3").mkdir(parents=True) or (root / "alice/3/broken.png").write_bytes(b"no png")
            ),
            "broken.png",
            "not a readable image",
        ),
        (lambda root: draw_digit(root / "alice" / "3" / "blank.png", 3, ink=250, paper=255), "blank.png", "no ink"),
    ],
)
def test_a_bad_file_or_folder_is_named_and_preprocess_writes_nothing(raw: Path, make, named: str, says: str):  # noqa: F811
    root = Path("digits")
    fill_folder(root, {"alice": 3})
    make(root)
    with pytest.raises(ImageError, match=says) as error:
        run_preprocess(raw)
    assert named in str(error.value)
    assert not Path("data/prepared").exists()


def test_your_digits_are_their_own_split_and_leave_mnists_splits_byte_for_byte_the_same(raw: Path):  # noqa: F811
    prepared = run_preprocess(raw)
    before = {name: (prepared / name).read_bytes() for name in SPLIT_FILES}
    with np.load(prepared / "own.npz") as arrays:
        assert arrays["images"].shape == (0, 28, 28)
    fill_folder(Path("digits"), {"alice": 12, "bob": 4})
    run_preprocess(raw)
    assert {name: (prepared / name).read_bytes() for name in SPLIT_FILES[:3]} == {
        name: before[name] for name in SPLIT_FILES[:3]
    }, "adding digits for evaluation changed what the models train, select or test on"
    with np.load(prepared / "own.npz") as arrays:
        assert len(arrays["labels"]) == 16 and set(arrays["groups"]) == {"own"}
        assert arrays["ids"][0] == "own:alice/0/0000.png" and set(arrays["writers"]) == {"alice", "bob"}
    table = catalog.read_catalog(prepared / "catalog.csv")
    mine = table[table["id"].str.startswith("own:")]
    assert len(mine) == 16 and set(mine["split"]) == {"own"} and (mine["label"] == mine["published"]).all()
    assert len(table) == 400 + 16 and table.iloc[:400].equals(catalog.read_catalog(prepared / "catalog.csv").iloc[:400])
    summary = catalog.counts(table)
    assert summary["splits"]["own"]["images"] == 16 and summary["splits"]["own"]["writers"] == 2
    inputs = json.loads((prepared / "inputs.json").read_text())
    assert inputs["own_digits"]["alice"]["images"] == 12 and inputs["split"]["own_digits"] == "evaluate"
    card = catalog.data_card(summary, inputs)
    assert "| own | own | 16 |" in card and "| digits/alice (12 files) |" in card
    # A changed image changes the folder's version in the card, not the splits.
    draw_digit(Path("digits/alice/0/0000.png"), 0, (200, 120))
    run_preprocess(raw)
    assert (
        json.loads((prepared / "inputs.json").read_text())["own_digits"]["alice"]["sha256"]
        != (inputs["own_digits"]["alice"]["sha256"])
    )


def test_with_own_digits_train_half_of_them_train_and_the_rest_stay_the_slice(raw: Path):  # noqa: F811
    fill_folder(Path("digits"), {"alice": 20})
    prepared = run_preprocess(raw)
    with np.load(prepared / "train.npz") as arrays:
        mnist_train = len(arrays["labels"])
    update_params(Path("params.yaml"), {"data.own_digits": "train"})
    run_preprocess(raw)
    ids = own_digits.read_own_digits(Path("digits")).ids
    trains = own_digits.in_training(ids)
    assert 0 < trains.sum() < 20
    with np.load(prepared / "train.npz") as arrays:
        assert len(arrays["labels"]) == mnist_train + trains.sum()
        assert sum(identifier.startswith("own:") for identifier in arrays["ids"]) == trains.sum()
        assert "alice" in set(arrays["writers"])
    with np.load(prepared / "own.npz") as arrays:
        assert len(arrays["labels"]) == 20 - trains.sum()
        slice_ids = set(arrays["ids"])
    table = catalog.read_catalog(prepared / "catalog.csv").set_index("id")
    assert {i for i in slice_ids if table.loc[i, "split"] == "own"} == slice_ids
    assert (table.loc[table.index.str.startswith("own:"), "split"] == "train").sum() == trains.sum()
    # Adding digits keeps every earlier digit on its side.
    fill_folder(Path("digits"), {"alice": 30})
    more = own_digits.read_own_digits(Path("digits")).ids
    side = dict(zip(more, own_digits.in_training(more), strict=True))
    assert [side[identifier] for identifier in ids] == trains.tolist()


def test_the_slice_reads_each_writer_and_each_answer_and_shows_in_the_summary_and_card():
    labels = np.array([3, 3, 7, 1, 1])
    predictions = np.array([3, 8, 7, 1, 7])
    ids = np.array([f"own:w/{i}" for i in range(5)])
    writers = np.array(["alice", "alice", "alice", "bob", "bob"])
    report = slices.own_report(labels, predictions, ids, writers)
    assert report["images"] == 5 and report["accuracy"] == 0.6
    assert report["per_writer"] == {"alice": [3, 2], "bob": [2, 1]}
    assert report["answers"]["own:w/1"] == 8
    own_figure = next(figure for figure in FIGURES if figure.key == "own_accuracy")
    evaluation = {"slices": {"own": report}}
    assert own_figure.value(Results(evaluation, None, {})) == 0.6
    assert own_lines(report) == ["- your writers' digits (5, digits/): accuracy 60.00% (alice 2/3, bob 1/2)"]
    empty = slices.own_report(*(np.zeros(0, dtype=int),) * 2, np.zeros(0, dtype=str), np.zeros(0, dtype=str))
    assert own_figure.value(Results({"slices": {"own": empty}}, None, {})) is None
    assert "none yet" in own_lines(empty)[0]


def test_mnist_digits_add_files_the_pages_drawings_and_named_scans_and_refuses_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    from mnist_zoo.tools import digits as tool

    downloads = tmp_path / "Downloads"
    saved = [draw_digit(downloads / f"alice_{d}_20261207T160312-123.png", d) for d in (3, 7)]
    scan = draw_digit(downloads / "IMG_0042.jpg", 5, (300, 400))
    root = tmp_path / "digits"
    assert tool.main(["add", *map(str, saved), "--to", str(root)]) == 0
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png")) == [
        "alice/3/20261207T160312-123.png",
        "alice/7/20261207T160312-123.png",
    ]
    assert f"dvc add {root.as_posix()}/alice && dvc repro" in capsys.readouterr().err
    assert tool.main(["add", str(scan), "--writer", "bob", "--digit", "5", "--to", str(root)]) == 0
    found = own_digits.read_own_digits(root)
    assert found.ids.tolist() == [
        "own:alice/3/20261207T160312-123.png",
        "own:alice/7/20261207T160312-123.png",
        "own:bob/5/IMG_0042.jpg",
    ] and found.labels.tolist() == [3, 7, 5]

    # Refused, naming the file, and nothing moves: a name that says no writer, a blank drawing, a clash.
    unnamed = draw_digit(downloads / "drawing.png", 1)
    blank = draw_digit(downloads / "alice_1_blank.png", 1, ink=255)
    again = draw_digit(downloads / "alice_3_20261207T160312-123.png", 3)
    for bad, says in ((unnamed, "not named <writer>_<digit>_<rest>"), (blank, "no ink"), (again, "already exists")):
        good = draw_digit(downloads / "alice_2_fine.png", 2)
        assert tool.main(["add", str(good), str(bad), "--to", str(root)]) == 1
        err = capsys.readouterr().err
        assert str(bad) in err and says in err and "nothing was moved" in err
        assert good.exists() and bad.exists() and not (root / "alice/2/fine.png").exists()
    with pytest.raises(SystemExit):
        tool.main(["add", str(unnamed), "--writer", "Bob Smith", "--digit", "1"])
