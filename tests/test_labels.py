"""Reviewing the label candidates (mnist-labels): the queue beside each candidate, answers written as
rows of the corrections file through its checks, the review server and its page in Chromium, and
the Label Studio round trip (tasks out, an export back in)."""

import base64
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mnist_zoo import config
from mnist_zoo.data import corrections, labelstudio
from mnist_zoo.files import write_npz
from mnist_zoo.tools import labels
from stages import label_candidates
from tests.browser import running
from tests.conftest import update_params, write_prepared
from tests.test_label_candidates import FLIPPED, zoo_probabilities

NUM_CANDIDATES = 8


@pytest.fixture
def queue(in_tmp_project: Path) -> labels.Queue:
    """A project whose zoo doubts the FLIPPED test digits: the candidates listed by the real stage."""
    write_prepared(Path("data/prepared"))
    update_params(Path("params.yaml"), {"labels.num_candidates": NUM_CANDIDATES, "labels.sheet_candidates": 4})
    variants = list(label_candidates.load_params()["train"]["variants"])
    tables = {}
    for split in ("validation", "test"):
        with np.load(config.PREPARED_DIR / f"{split}.npz") as prepared:
            truth = prepared["labels"].astype(int)
        doubted = np.where(np.isin(np.arange(len(truth)), FLIPPED), (truth + 3) % 10, truth)
        tables[split] = zoo_probabilities(doubted, len(variants), 1)
    for index, name in enumerate(variants):
        write_npz(config.PROBABILITIES_DIR / f"{name}.npz", **{split: table[index] for split, table in tables.items()})
    label_candidates.main()
    return labels.Queue("test")


def rows(path: Path = config.CORRECTIONS_PATH) -> dict[str, corrections.Correction]:
    return {row.id: row for row in corrections.read_corrections(path)}


def test_each_candidate_comes_with_its_writers_other_digits_and_every_models_answer(queue: labels.Queue):
    state = queue.state()
    assert [c["rank"] for c in state["candidates"]] == list(range(1, NUM_CANDIDATES + 1))
    assert {f"test:{index}" for index in FLIPPED} >= {c["id"] for c in state["candidates"][:5]}
    first = state["candidates"][0]
    assert set(first["models"]) == set(label_candidates.load_params()["train"]["variants"])
    shown = 0
    for candidate in state["candidates"]:
        index = queue.position[candidate["id"]]
        for key, digit in (("same_published", candidate["published"]), ("same_suggested", candidate["suggested"])):
            same = [
                str(queue.ids[i])
                for i in range(len(queue.ids))
                if i != index and queue.writers[i] == queue.writers[index] and queue.published[i] == digit
            ]
            assert candidate[key] == same[: labels.OTHER_DIGITS]
            shown += len(same)
    assert shown
    assert first["decision"] is None


def test_answers_become_rows_preprocess_checks_and_anything_else_is_refused(queue: labels.Queue):
    first, second, third = (c["id"] for c in queue.candidates[:3])
    published = {identifier: int(queue.published[queue.position[identifier]]) for identifier in (first, second)}
    new = (published[second] + 3) % 10
    decisions = [
        queue.decision(first, "right", "ana"),
        queue.decision(second, str(new), "ana", "a closed loop"),
        queue.decision(third, "exclude", "ana"),
    ]
    assert queue.record(decisions) == [2, 3, 4]
    written = rows()
    assert written[first].label == published[first] and "the published" in written[first].reason
    assert written[second].label == new and written[second].reason.endswith("; a closed loop")
    assert written[third].label is None and written[third].decided_by == "ana"
    assert written[first].sha256 == corrections.pixel_sha256(queue.image(first))
    assert queue.state()["candidates"][1]["decision"]["label"] == new

    not_listed = next(str(i) for i in queue.ids if str(i) not in queue.by_id)
    for arguments, message in (
        ((not_listed, "right", "ana"), rf"'{not_listed}' is not one of the {NUM_CANDIDATES} test candidates"),
        ((first, "10", "ana"), r"answer '10' is not 'right', a digit 0-9 or 'exclude'"),
        ((first, "right", " "), r"say who reviewed"),
    ):
        with pytest.raises(ValueError, match=message):
            queue.decision(*arguments)


def test_the_queue_needs_the_candidates_of_this_split(queue: labels.Queue):
    (config.LABEL_CANDIDATES_DIR / "test.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"test.csv is missing: run `dvc repro label_candidates`"):
        labels.Queue("test")
    assert labels.main(["export", "tasks.json"]) == 2 and not Path("tasks.json").exists()


def review_server(queue: labels.Queue):
    return running(labels.make_server(queue, "ana"))


def request(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_server_writes_each_answer_and_refuses_a_bad_one_or_a_broken_file(queue: labels.Queue):
    first = queue.candidates[0]["id"]
    with review_server(queue) as url:
        status, body = request(url + "api/decision", {"id": first, "answer": "exclude", "reviewer": "ana"})
        assert (status, body["line"], body["label"]) == (200, 2, "exclude") and rows()[first].label is None
        with urllib.request.urlopen(url + f"image/{first}", timeout=30) as response:
            assert response.read() == labelstudio.png_bytes(queue.image(first))
        before = config.CORRECTIONS_PATH.read_bytes()
        status, body = request(url + "api/decision", {"id": first, "answer": "12", "reviewer": "ana"})
        assert status == 400 and "answer '12'" in body["error"]
        config.CORRECTIONS_PATH.write_text(config.CORRECTIONS_PATH.read_text() + "test:1,xx\n")
        broken = config.CORRECTIONS_PATH.read_bytes()
        assert request(url + "api/queue")[0] == 409
        status, body = request(url + "api/decision", {"id": first, "answer": "right", "reviewer": "ana"})
        assert status == 409 and body["error"].startswith("labels/corrections.csv:3: 2 fields, expected 6")
        assert config.CORRECTIONS_PATH.read_bytes() == broken != before


def test_label_studio_tasks_go_out_and_an_export_of_their_answers_comes_back_as_rows(queue: labels.Queue):
    from PIL import Image

    assert labels.main(["export", "tasks.json", "--limit", "3"]) == 0
    tasks = json.loads(Path("tasks.json").read_text())
    assert [task["data"]["example_id"] for task in tasks] == [c["id"] for c in queue.candidates[:3]]
    assert 'name="label" toName="image"' in Path("tasks.xml").read_text()
    first = tasks[0]["data"]
    png = base64.b64decode(first["image"].removeprefix("data:image/png;base64,"))
    assert (255 - np.asarray(Image.open(io.BytesIO(png))) == queue.image(first["example_id"])).all()
    assert tasks[0]["predictions"][0]["result"][0]["value"]["choices"] == [first["suggested"]]

    # What Label Studio's JSON export holds: each task with its id and annotations; the latest kept one counts.
    def annotation(choice: str, when: str, **extra) -> dict:
        result = [labelstudio.choice_result(choice)]
        if extra.pop("note", None):
            result.append({"from_name": "note", "to_name": "image", "type": "textarea", "value": {"text": ["thin"]}})
        return {"id": 1, "completed_by": 7, "result": result, "was_cancelled": False, "updated_at": when, **extra}

    for number, task in enumerate(tasks, start=1):
        task["id"] = number
    tasks[0]["annotations"] = [annotation("3", "2026-12-01T10:00"), annotation("9", "2026-12-02T10:00", note=True)]
    tasks[1]["annotations"] = [annotation("not a digit", "2026-12-01T10:00", completed_by={"email": "bo@x.org"})]
    tasks[2]["annotations"] = [annotation("4", "2026-12-03T10:00", was_cancelled=True)]  # skipped, not answered
    Path("export.json").write_text(json.dumps(tasks))
    assert labels.main(["import", "export.json"]) == 0
    written = rows()
    assert set(written) == {tasks[0]["data"]["example_id"], tasks[1]["data"]["example_id"]}
    kept = written[first["example_id"]]
    assert (kept.label, kept.decided_by) == (9, "label-studio user 7") and kept.reason.endswith("; thin")
    assert written[tasks[1]["data"]["example_id"]].label is None
    assert written[tasks[1]["data"]["example_id"]].decided_by == "bo@x.org"

    before = config.CORRECTIONS_PATH.read_bytes()
    tasks[2]["annotations"] = [annotation("seven", "2026-12-04T10:00")]
    Path("export.json").write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match=r"task 3 \(Label Studio id 3\) \(test:\d+\): the answer is \['seven'\]"):
        labels.import_export(queue, Path("export.json"))
    assert config.CORRECTIONS_PATH.read_bytes() == before


@pytest.mark.slow
def test_a_reviewer_answers_with_the_keyboard_resumes_after_a_reload_and_sees_a_clash(
    queue: labels.Queue, tmp_path: Path
):
    """Debian's Chromium at the review page: Enter, a digit and x answer three candidates; a reload
    resumes at the fourth; a row edited by hand to clash with the image is refused on the page and
    the file is left as it was."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import TIMEOUT, chromium

    ids = [c["id"] for c in queue.candidates]
    digit = (int(queue.published[queue.position[ids[1]]]) + 1) % 10
    with review_server(queue) as url, chromium(tmp_path / "profile") as driver:

        def wait(script: str):
            return WebDriverWait(driver, TIMEOUT).until(lambda page: page.execute_script(script))

        def press(key: str, expect: str) -> None:
            driver.find_element(By.TAG_NAME, "body").send_keys(key)
            wait(f"return document.body.dataset.answered === {json.dumps(expect)}")

        driver.get(url)
        wait("return document.body.dataset.ready")
        assert driver.execute_script("return document.body.dataset.id") == ids[0]
        press(Keys.ENTER, f"{ids[0]}:{queue.published[queue.position[ids[0]]]}")
        press(str(digit), f"{ids[1]}:{digit}")
        press("x", f"{ids[2]}:exclude")
        written = rows()
        assert [written[i].label for i in ids[:3]] == [queue.published[queue.position[ids[0]]], digit, None]
        assert {written[i].decided_by for i in ids[:3]} == {"ana"}

        driver.refresh()
        wait("return document.body.dataset.ready")
        assert driver.execute_script("return document.body.dataset.id") == ids[3]
        assert driver.find_element(By.ID, "status").text.startswith(f"3 of {len(ids)} decided")

        # Someone edits the first row by hand: another published label than the image's.
        text = config.CORRECTIONS_PATH.read_text().splitlines(keepends=True)
        fields = text[1].split(",")
        fields[2] = str((int(fields[2]) + 1) % 10)
        text[1] = ",".join(fields)
        config.CORRECTIONS_PATH.write_text("".join(text))
        edited = config.CORRECTIONS_PATH.read_bytes()
        for _ in range(3):
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
        assert driver.execute_script("return document.body.dataset.id") == ids[0]
        press("x", f"{ids[0]}:error")
        error = driver.find_element(By.ID, "error").text
        assert error.startswith(f"labels/corrections.csv:2: the row for {ids[0]} was written against"), error
        assert config.CORRECTIONS_PATH.read_bytes() == edited
        driver.save_screenshot(str(tmp_path / "review.png"))


def test_the_training_split_is_reviewed_from_a_cross_fitted_variants_list(queue: labels.Queue, capsys):
    from mnist_zoo.data.dataset import load_metadata
    from mnist_zoo.evaluation.label_candidates import TRAIN_CANDIDATES_DIR, candidates_csv, rank_candidates

    arrays = load_metadata(config.PREPARED_DIR / "train.npz", "labels", "published", "ids", "writers", "groups")
    truth, published, ids, writers, groups = arrays
    ranked = rank_candidates(
        zoo_probabilities(truth.astype(int), 1, 2), truth.astype(int), published, ids, writers, groups, 6
    )
    TRAIN_CANDIDATES_DIR.mkdir(parents=True)
    (TRAIN_CANDIDATES_DIR / "mlp_relu.csv").write_bytes(candidates_csv(ranked))
    assert labels.main(["export", "train.json", "--split", "train", "--variant", "mlp_relu"]) == 0
    tasks = json.loads(Path("train.json").read_text())
    assert [task["data"]["example_id"] for task in tasks] == ranked["id"].tolist()
    train_queue = labels.Queue("train", candidates_path=TRAIN_CANDIDATES_DIR / "mlp_relu.csv")
    first = ranked["id"][0]
    train_queue.record([train_queue.decision(first, "exclude", "ana")])
    assert rows()[first].label is None and first.startswith("train:")

    assert labels.main(["export", "x.json", "--split", "train"]) == 2
    assert labels.main(["export", "x.json", "--variant", "mlp_relu"]) == 2
    assert "give --split train with --variant NAME" in capsys.readouterr().err
    assert labels.main(["export", "x.json", "--split", "train", "--variant", "lenet5"]) == 2
    assert (
        "lenet5.csv is missing: run `dvc repro train_candidates (opt in: labels.cross_fit)`" in capsys.readouterr().err
    )
