"""The data's versions on tiny synthetic data: QMNIST's writers beside every digit, a validation split
of whole writers, the corrections file (each bad row refused with its line, nothing written), the
catalog of every example, the data card, and the slices evaluation reports."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo.data import catalog, corrections, download, prepare, writers
from mnist_zoo.evaluation import slices
from stages import preprocess
from tests.conftest import qmnist_bytes, synthetic_digits, synthetic_writers, update_params, write_mnist_gz
from tests.test_fetch import dead_url

HEADER = "id,sha256,published,label,reason,decided_by\n"


@pytest.fixture
def raw(in_tmp_project: Path) -> Path:
    """MNIST's and QMNIST's files, synthetic (300 training digits by 30 writers, 100 test digits by
    10 others), in data/raw/ of a temp project with a quick split."""
    write_mnist_gz(in_tmp_project / "data" / "raw", num_train=300, num_test=100)
    update_params(in_tmp_project / "params.yaml", {"data.validation_size": 50})
    return in_tmp_project / "data" / "raw"


def run_preprocess(raw: Path, corrections_text: str | None = None) -> Path:
    path = Path("labels/corrections.csv")
    if corrections_text is not None:
        path.parent.mkdir(exist_ok=True)
        path.write_text(HEADER + corrections_text)
    preprocess.main(raw_dir=raw, qmnist_dir=raw, corrections_path=path)
    return Path("data/prepared")


def mnist_split(raw: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = prepare.IDX_FILES[source]
    return prepare.decode_split((raw / images).read_bytes(), (raw / labels).read_bytes(), source)


def row(raw: Path, identifier: str, label: str, published: int | None = None, sha256: str | None = None) -> str:
    """A corrections row for `identifier` written against this data (unless told otherwise)."""
    source, index = identifier.split(":")
    images, labels = mnist_split(raw, source)
    sha256 = sha256 or corrections.pixel_sha256(images[int(index)])
    published = labels[int(index)] if published is None else published
    return f"{identifier},{sha256},{published},{label},looked at it,tests\n"


def test_writers_come_with_every_digit_and_a_class_mismatch_names_the_file_and_row():
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    found = writers.writers_for(gzip.compress(qmnist_bytes(labels, np.array([7, 8, 7, 9, 8]))), labels, "q.gz")
    assert found.writer.tolist() == [7, 8, 7, 9, 8]
    assert found.group.tolist() == ["students", "employees", "students", "students", "employees"]
    other = labels.copy()
    other[3] = 2
    with pytest.raises(ValueError, match=r"q.gz: row 3 has class 2 where MNIST's label is 1 \(1 rows differ\)"):
        writers.writers_for(gzip.compress(qmnist_bytes(other, np.arange(5))), labels, "q.gz")
    with pytest.raises(ValueError, match="q.gz: not a QMNIST extended-labels file"):
        writers.writers_for(gzip.compress(b"\x00\x00\x08\x01" + bytes(20)), labels, "q.gz")
    with pytest.raises(ValueError, match="q.gz: 5 rows for 6 MNIST digits"):
        writers.writers_for(gzip.compress(qmnist_bytes(labels, np.arange(5))), np.append(labels, 0), "q.gz")


def test_the_writer_split_puts_no_writer_in_two_splits_and_stays_stratified_and_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 3000)
    by_writer = rng.integers(0, 120, 3000)
    train, validation = prepare.split_indices(labels, 500, 0, seed=7, writers=by_writer)
    assert not set(by_writer[train]) & set(by_writer[validation])
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(3000))
    assert abs(len(validation) - 500) < 100
    shares = np.bincount(labels[validation], minlength=10) / len(validation)
    assert np.abs(shares - np.bincount(labels, minlength=10) / 3000).max() < 0.04
    np.testing.assert_array_equal(prepare.split_indices(labels, 500, 0, 7, by_writer)[1], validation)
    assert not np.array_equal(prepare.split_indices(labels, 500, 0, 8, by_writer)[1], validation)
    # The random split, which the writer split replaced as the default, shares writers.
    random_train, random_validation = prepare.split_indices(labels, 500, 0, seed=7)
    assert set(by_writer[random_train]) & set(by_writer[random_validation])


def test_preprocess_writes_the_catalog_of_every_example_and_splits_by_writer(raw: Path):
    prepared = run_preprocess(raw)
    table = catalog.read_catalog(prepared / "catalog.csv")
    assert len(table) == 400 and table["id"].tolist()[:2] == ["train:0", "train:1"]
    assert table["id"].tolist()[300] == "test:0"
    images, labels = mnist_split(raw, "train")
    assert table["sha256"][17] == hashlib.sha256(images[17].tobytes()).hexdigest()
    assert table["published"][17] == table["label"][17] == str(labels[17])
    assert table["writer"][17] == synthetic_writers(300, "train")[17]
    assert set(table["split"]) == {"train", "validation", "test"}
    by_split = {split: set(rows["writer"]) for split, rows in table.groupby("split")}
    assert not by_split["train"] & by_split["validation"] and not by_split["train"] & by_split["test"]
    with np.load(prepared / "validation.npz") as arrays:
        ids = arrays["ids"].tolist()
        assert set(ids) == set(table[table["split"] == "validation"]["id"])
        assert set(arrays["groups"]) == {"employees", "students"}
    with np.load(prepared / "test.npz") as arrays:  # in the catalog's order: a prediction's row is its id's
        assert arrays["ids"].tolist() == table[table["split"] == "test"]["id"].tolist()
    inputs = (prepared / "inputs.json").read_text()
    assert download.MNIST.files["train-images-idx3-ubyte.gz"] not in inputs  # synthetic files, their own hashes
    assert hashlib.sha256(gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())).hexdigest() in inputs


def test_the_random_split_is_still_there_for_comparison(raw: Path, in_tmp_project: Path):
    update_params(in_tmp_project / "params.yaml", {"data.validation_split": "random"})
    table = catalog.read_catalog(run_preprocess(raw) / "catalog.csv")
    by_split = {split: set(rows["writer"]) for split, rows in table.groupby("split")}
    assert (table["split"] == "validation").sum() == 50 and by_split["train"] & by_split["validation"]


def test_a_test_label_correction_changes_the_test_split_only_and_an_exclusion_drops_the_digit(raw: Path):
    prepared = run_preprocess(raw, "")
    before = {split: (prepared / f"{split}.npz").read_bytes() for split in ("train", "validation", "test")}
    _, test_labels = mnist_split(raw, "test")
    relabel_to = (int(test_labels[5]) + 1) % 10
    run_preprocess(raw, row(raw, "test:5", str(relabel_to)) + row(raw, "test:9", "exclude"))
    after = {split: (prepared / f"{split}.npz").read_bytes() for split in before}
    # DVC hashes these files: the train stages' inputs are byte for byte the same, so nothing retrains.
    assert after["train"] == before["train"] and after["validation"] == before["validation"]
    assert after["test"] != before["test"]
    with np.load(prepared / "test.npz") as arrays:
        ids = arrays["ids"].tolist()
        assert "test:9" not in ids and len(ids) == 99
        assert arrays["labels"][ids.index("test:5")] == relabel_to
        assert arrays["published"][ids.index("test:5")] == test_labels[5]
    table = catalog.read_catalog(prepared / "catalog.csv").set_index("id")
    assert table.loc["test:5", "label"] == str(relabel_to) and table.loc["test:9", "split"] == "excluded"
    summary = catalog.counts(table.reset_index())
    assert summary["corrections"] == {"relabelled": {"train": 0, "test": 1}, "excluded": {"train": 0, "test": 1}}


def test_a_training_label_correction_changes_what_the_models_train_on(raw: Path):
    prepared = run_preprocess(raw, "")
    before = (prepared / "train.npz").read_bytes() + (prepared / "validation.npz").read_bytes()
    _, train_labels = mnist_split(raw, "train")
    run_preprocess(raw, row(raw, "train:3", str((int(train_labels[3]) + 1) % 10)))
    assert (prepared / "train.npz").read_bytes() + (prepared / "validation.npz").read_bytes() != before
    assert (prepared / "test.npz").is_file()


@pytest.mark.parametrize(
    "make_row, message",
    [
        (lambda raw: row(raw, "test:100", "3", published=0, sha256="0" * 64), r":2: no example test:100"),
        (lambda raw: row(raw, "test:3", "3").replace("test:3", "valid:3"), r":2: id 'valid:3' is not an example's id"),
        (
            lambda raw: row(raw, "test:4", "3", sha256="ab" * 32),
            r":2: test:4.s image has SHA-256 .* another image .another version",
        ),
        (lambda raw: row(raw, "test:4", "12"), r":2: label '12' is neither a digit 0-9 nor 'exclude'"),
        (lambda raw: row(raw, "test:4", "-1"), r":2: label '-1' is neither"),
        (
            lambda raw: row(raw, "test:4", "3") + row(raw, "test:4", "5"),
            r":3: a second row for test:4 .the first is line 2",
        ),
        (lambda raw: row(raw, "test:4", "3").replace("looked at it,tests", ","), r":2: say why .reason. and who"),
        (lambda raw: row(raw, "test:4", "3").rstrip() + ",extra\n", r":2: 7 fields, expected 6"),
    ],
)
def test_each_bad_correction_is_refused_naming_its_line_and_nothing_is_written(raw: Path, make_row, message):
    with pytest.raises(ValueError, match=r"labels/corrections.csv" + message):
        run_preprocess(raw, make_row(raw))
    assert not Path("data/prepared").exists()


def test_a_correction_with_the_wrong_published_label_or_header_is_refused(raw: Path):
    _, test_labels = mnist_split(raw, "test")
    with pytest.raises(ValueError, match=rf":2: test:4's published label is {test_labels[4]}, the row says"):
        run_preprocess(raw, row(raw, "test:4", "3", published=(int(test_labels[4]) + 1) % 10))
    Path("labels/corrections.csv").write_text("id,label\ntest:4,3\n")
    with pytest.raises(ValueError, match=r"corrections.csv:1: the header is id,label; expected id,sha256"):
        preprocess.main(raw_dir=raw, qmnist_dir=raw, corrections_path=Path("labels/corrections.csv"))
    assert not Path("data/prepared").exists()


def decision(raw: Path, identifier: str, label: int | str, reason: str = "looked at it") -> corrections.Decision:
    source, index = identifier.split(":")
    images, labels = mnist_split(raw, source)
    sha256 = corrections.pixel_sha256(images[int(index)])
    return corrections.Decision(identifier, sha256, int(labels[int(index)]), label, reason, "tests")


def test_recorded_decisions_are_rows_preprocess_applies_and_a_second_decision_replaces_the_first(raw: Path):
    path = Path("labels/corrections.csv")
    path.parent.mkdir()
    hand_written = row(raw, "test:7", "exclude").replace("looked at it", '"closed, like a 0"')
    path.write_text(HEADER + hand_written)
    published = decision(raw, "test:4", 0).published
    new = (published + 1) % 10
    lines = corrections.record_decisions(
        path, [decision(raw, "test:4", new, "two strokes,\n the second a foot"), decision(raw, "test:9", "exclude")]
    )
    assert lines == [3, 4]
    text = path.read_text().splitlines(keepends=True)
    assert text[1] == hand_written  # a hand-written row stays as it was written
    assert text[2].endswith(f',{published},{new},"two strokes, the second a foot",tests\n')  # one row, one line
    prepared = run_preprocess(raw)
    split = catalog.read_catalog(prepared / "catalog.csv").set_index("id")
    assert (split.loc["test:4", "label"], split.loc["test:4", "published"]) == (str(new), str(published))
    assert split.loc[["test:7", "test:9"], "split"].tolist() == ["excluded", "excluded"]

    # The reviewer changes their mind about test:9: its own line changes, nothing is appended.
    right = decision(raw, "test:9", 0)._replace(label=decision(raw, "test:9", 0).published)
    assert corrections.record_decisions(path, [right]) == [4]
    assert path.read_text().splitlines(keepends=True)[:3] == text[:3] and len(path.read_text().splitlines()) == 4
    assert corrections.read_corrections(path)[-1].label == right.published
    split = catalog.read_catalog(run_preprocess(raw) / "catalog.csv").set_index("id")
    assert split.loc["test:9", "split"] == "test"


@pytest.mark.parametrize(
    "existing, bad, message",
    [
        ("", {"label": 10}, r"^test:4: label '10' is neither a digit 0-9 nor 'exclude'; nothing written"),
        ("", {"decided_by": " "}, r"^test:4: say why .reason. and who decided"),
        (
            lambda raw: row(raw, "test:4", "exclude", sha256="ab" * 32),
            {},
            r"corrections.csv:3: the row for test:4 was written against image abababababab… with published label",
        ),
        (lambda raw: "test:5,xx\n", {}, r"corrections.csv:3: 2 fields, expected 6"),
    ],
)
def test_a_decision_that_clashes_with_the_file_or_is_bad_writes_nothing(raw: Path, existing, bad, message):
    path = Path("labels/corrections.csv")
    path.parent.mkdir()
    path.write_text(HEADER + row(raw, "test:7", "exclude") + (existing(raw) if existing else ""))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        corrections.record_decisions(path, [decision(raw, "test:9", 1), decision(raw, "test:4", 3)._replace(**bad)])
    assert path.read_bytes() == before


def test_extended_labels_that_do_not_match_mnist_stop_preprocess_naming_the_file(raw: Path):
    _, labels = mnist_split(raw, "test")
    shifted = np.roll(labels, 1)
    (raw / "qmnist-test-labels-idx2-int.gz").write_bytes(gzip.compress(qmnist_bytes(shifted, np.arange(100))))
    with pytest.raises(ValueError, match=r"qmnist-test-labels-idx2-int.gz: row \d+ has class"):
        run_preprocess(raw)
    assert not Path("data/prepared").exists()


def test_a_missing_qmnist_copy_offline_names_its_variable_and_writes_nothing(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(download.FetchError) as error:
        download.fetch_all(download.QMNIST, [str(empty), dead_url()], tmp_path / "qmnist", timeout_seconds=5)
    assert "set QMNIST_MIRROR to a directory holding QMNIST's extended labels's 2 files" in str(error.value)
    assert "data.qmnist_mirrors" in str(error.value)
    assert not (tmp_path / "qmnist").exists() or not any((tmp_path / "qmnist").iterdir())


def test_the_data_card_counts_each_split_by_group_and_class_and_names_its_inputs(raw: Path):
    prepared = run_preprocess(raw, "")
    summary = catalog.counts(catalog.read_catalog(prepared / "catalog.csv"))
    assert sum(entry["images"] for entry in summary["splits"].values()) == 400
    assert summary["shared_writers"] == {"test/train": 0, "test/validation": 0, "train/validation": 0}
    test = summary["splits"]["test"]
    assert test["writers"] == 10 and sum(test["groups"]["students"]["per_class"]) == 50
    import json

    card = catalog.data_card(summary, json.loads((prepared / "inputs.json").read_text()))
    assert "| test | students | 50 |" in card and "Writers in two splits: test/train: 0" in card
    assert "| labels/corrections.csv |" in card and "data.validation_split writer" in card


@pytest.mark.parametrize("only_a", [0, 1, 3, 7, 40])
def test_the_exact_mcnemar_p_value_is_scipys_binomial_test(only_a: int):
    """slices.exact_mcnemar sums the binomial tail in integers (scipy.stats costs evaluate 0.5 s to
    import): scipy's two-sided binomtest figure, ties and large counts included."""
    from scipy.stats import binomtest

    for only_b in (0, 1, 2, 3, 7, 40, 41, 300):
        discordant = only_a + only_b
        expected = 1.0 if discordant == 0 else min(1.0, binomtest(min(only_a, only_b), discordant, 0.5).pvalue)
        assert slices.exact_mcnemar(only_a, only_b) == pytest.approx(expected, rel=1e-9, abs=1e-300), (only_a, only_b)


def test_slices_read_each_group_each_writer_and_the_published_labels():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 4)
    writers_of = np.repeat([10, 11, 12, 13], 10)
    groups = np.where(writers_of % 2, "students", "employees")
    published = labels.copy()
    published[[0, 1, 13]] = [6, 7, 9]  # the labels used (0, 1, 3) were corrected from MNIST's 6, 7, 9
    predictions = labels.copy()
    predictions[[0, 11, 12, 13]] = 9  # writer 11 (a student) is read worst
    ids = np.array([f"test:{index}" for index in range(40)])
    report = slices.slice_report(labels, published, predictions, writers_of, groups, ids, num_worst=2)
    assert report["groups"]["employees"] == {"images": 20, "accuracy": 0.95}
    assert report["groups"]["students"] == {"images": 20, "accuracy": 0.85}
    # test:1 is right only against the reviewed label, test:13 only against the published one.
    assert report["published_labels"] == {
        "accuracy": 0.9,
        "relabelled": 3,
        "errors_on_relabelled": 2,
        "right_only_against_published": 1,
        "right_only_against_reviewed": 1,
        "paired_p_value": 1.0,
    }
    assert slices.exact_mcnemar(0, 6) == pytest.approx(2 / 2**6) and slices.exact_mcnemar(0, 0) == 1.0
    worst = report["writers"]["worst"]
    assert [entry["writer"] for entry in worst] == [11, 10]
    assert worst[0] == {
        "writer": 11,
        "group": "students",
        "images": 10,
        "accuracy": 0.7,
        "mistakes": ["test:11", "test:12", "test:13"],
    }
    assert report["writers"]["min_accuracy"] == 0.7 and report["writers"]["per_writer"]["12"] == [10, 10, "employees"]


def test_the_mistakes_grid_marks_a_corrected_digit_with_mnists_label():
    from mnist_zoo.evaluation.scoring import plot_misclassified

    images, labels = synthetic_digits(4, seed=5)
    probabilities = np.full((4, 10), 0.01)
    probabilities[np.arange(4), (labels + 1) % 10] = 0.91
    published = labels.copy()
    published[2] = (labels[2] + 5) % 10
    figure = plot_misclassified(images, labels, probabilities, np.arange(4), "t", published)
    titles = [axis.get_title() for axis in figure.axes[:4]]
    assert [f"(MNIST: {published[2]})" in title for title in titles] == [False, False, True, False]
    assert figure.axes[2].title.get_color() == "firebrick" and figure.axes[0].title.get_color() == "black"


def test_a_validation_size_under_one_writers_share_holds_out_one_whole_writer():
    labels = np.arange(600) % 10
    writers = np.arange(600) // 100  # six writers of 100 digits each
    train, validation = prepare.split_indices(labels, 10, 0, 0, writers)
    assert len(set(writers[validation])) == 1 and len(validation) == 100
    assert not set(writers[validation]) & set(writers[train])
