"""predict: a person's own images, normalised as MNIST was made, through Keras or ONNX Runtime."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_zoo.data import digits
from mnist_zoo.tools import predict as predict_module
from tests.conftest import PROJECT_ROOT, library_noise


def stroke_digit(height: int = 300, width: int = 240, ink: int = 20, paper: int = 235) -> np.ndarray:
    """A '7'-like glyph, dark ink on light paper, off-centre on a large page."""
    page = np.full((height, width), paper, dtype=np.uint8)
    page[40:60, 30:150] = ink  # the bar
    for row in range(60, 220):  # the slanted stem
        column = 150 - (row - 60) // 2
        page[row, column - 10 : column + 10] = ink
    return page


def test_normalise_makes_an_mnist_digit():
    digit = digits.normalise(stroke_digit().astype(np.float32))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.max() == pytest.approx(255, abs=1) and digit[0].max() == 0  # light ink, dark background
    rows, columns = np.nonzero(digit > 0)
    assert max(rows.max() - rows.min() + 1, columns.max() - columns.min() + 1) == 20  # fits 20x20
    centre = [float((np.arange(28) * digit.sum(axis=1 - axis)).sum() / digit.sum()) for axis in (0, 1)]
    assert centre == pytest.approx([13.5, 13.5], abs=0.5)  # centre of mass at the centre


def test_either_polarity_and_any_page_size_give_the_same_digit():
    dark_on_light = digits.normalise(stroke_digit().astype(np.float32))
    page = np.full((500, 700), 255.0 - 235)  # a larger dark page, the digit light and elsewhere on it
    page[150:450, 400:640] = 255.0 - stroke_digit()
    light_on_dark = digits.normalise(page)
    assert np.abs(dark_on_light - light_on_dark).mean() < 2


def test_a_blank_page_is_refused():
    with pytest.raises(digits.ImageError, match="blank.png: no ink found"):
        digits.normalise(np.full((50, 50), 250.0) + np.random.default_rng(0).normal(0, 3, (50, 50)), "blank.png")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Keras model saved as the flagship, and its ONNX export: predict's plumbing only."""
    import keras

    from mnist_zoo.models.families import build_convnet
    from mnist_zoo.shipping.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("served")
    keras.utils.set_random_seed(0)
    model = build_convnet([{"filters": 4, "kernel_size": 3, "pool": True}], [{"units": 8}], "relu")
    (root / "models").mkdir(), (root / "export").mkdir()
    model.save(root / "models" / "flagship.keras")
    export_onnx(model, root / "export" / "flagship.onnx")
    return root


def write_inputs(directory: Path) -> dict[str, Path]:
    """Good images in several formats, and each kind of bad input."""
    directory.mkdir()
    glyph = stroke_digit()
    good = {"seven.jpg": "JPEG", "seven.bmp": "BMP", "seven.gif": "GIF", "seven.tiff": "TIFF"}
    paths = {name: directory / name for name in good}
    for name, kind in good.items():
        Image.fromarray(glyph).convert("RGB" if kind == "JPEG" else "L").save(paths[name], kind)
    rgba = np.zeros((*glyph.shape, 4), dtype=np.uint8)  # ink on a transparent sheet
    rgba[..., 3] = 255 - glyph
    paths["seven.png"] = directory / "seven.png"
    Image.fromarray(rgba, "RGBA").save(paths["seven.png"])
    paths["seven.npy"] = directory / "seven.npy"
    np.save(paths["seven.npy"], 1 - glyph / 255.0)
    paths["notes.png"] = directory / "notes.png"
    paths["notes.png"].write_text("not an image at all\n")
    paths["cut.jpg"] = directory / "cut.jpg"
    paths["cut.jpg"].write_bytes(paths["seven.jpg"].read_bytes()[:300])
    paths["white.png"] = directory / "white.png"
    Image.fromarray(np.full((64, 64), 255, dtype=np.uint8)).save(paths["white.png"])
    return paths


def run_predict(models: Path, *arguments: str) -> subprocess.CompletedProcess:
    """predict on `models` (models/, export/, and robustness/ and typicality.npz where a test wrote them)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_zoo.tools.predict",
            *arguments,
            "--models-dir",
            str(models / "models"),
            "--export-dir",
            str(models / "export"),
            "--robustness-dir",
            str(models / "robustness"),
            "--typicality",
            str(models / "typicality.npz"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("onnx", [False, True], ids=["keras", "onnx"])
def test_bad_inputs_are_named_and_the_rest_is_still_predicted(models: Path, tmp_path: Path, onnx: bool):
    write_inputs(tmp_path / "inputs")
    missing = tmp_path / "nowhere.png"
    result = run_predict(models, str(tmp_path / "inputs"), str(missing), "--json", *(["--onnx"] if onnx else []))
    assert result.returncode == 1, result.stderr
    records = {Path(record["file"]).name: record for record in json.loads(result.stdout)}
    for name in ("seven.jpg", "seven.bmp", "seven.gif", "seven.tiff", "seven.png", "seven.npy"):
        top = records[name]["predictions"]["flagship"]
        assert [guess["digit"] for guess in top] and len(top) == 3
        assert sum(guess["probability"] for guess in top) <= 1 + 1e-6
    # The same glyph in every format reaches the model as (nearly) the same digit.
    firsts = {
        records[name]["predictions"]["flagship"][0]["digit"]
        for name in ("seven.jpg", "seven.bmp", "seven.gif", "seven.tiff", "seven.png", "seven.npy")
    }
    assert len(firsts) == 1
    for name, reason in (
        ("notes.png", "not a readable image"),
        ("cut.jpg", "not a readable image"),
        ("white.png", "no ink found"),
        ("nowhere.png", "no such file"),
    ):
        assert reason in records[name]["error"] and name in records[name]["error"]
        assert f"{name}: {reason}" in result.stderr or reason in result.stderr


@pytest.mark.slow
def test_the_table_lists_the_top_three_per_model(models: Path, tmp_path: Path):
    paths = write_inputs(tmp_path / "inputs")
    result = run_predict(models, str(paths["seven.jpg"]))
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()
    assert header.split() == ["file", "model", "answer", "#1", "#2", "#3"]
    assert row.split()[:2] == [str(paths["seven.jpg"]), "flagship"] and row.count("%") == 3
    assert row.split()[2] == row.split()[3]  # no "not a digit" thresholds here: the answer is the top digit
    assert "no" in result.stderr and "not a digit" in result.stderr  # and predict says why
    assert library_noise(result.stderr) == []  # its own lines only: no TensorFlow start-up chatter


@pytest.mark.slow
def test_the_console_script_is_installed_and_runs_the_same_tool(models: Path, tmp_path: Path):
    """`pip install -r requirements.txt` installs the package and its console scripts."""
    paths = write_inputs(tmp_path / "inputs")
    script = Path(sys.executable).with_name("mnist-predict")
    arguments = [str(paths["seven.jpg"]), "--onnx", "--export-dir", str(models / "export")]
    installed = subprocess.run([str(script), *arguments], cwd=tmp_path, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout == run_predict(models, *arguments).stdout
    for tool in ("mnist-gate", "mnist-pr-comment"):
        helped = subprocess.run([str(Path(sys.executable).with_name(tool)), "--help"], capture_output=True, text=True)
        assert helped.returncode == 0 and helped.stdout.startswith("usage: " + tool), helped.stderr


def test_an_unknown_model_is_refused_with_the_valid_ones(models: Path, tmp_path: Path):
    paths = write_inputs(tmp_path / "inputs")
    result = run_predict(models, str(paths["seven.jpg"]), "--model", "lenet7")
    assert result.returncode == 2 and result.stdout == ""
    assert "no model lenet7" in result.stderr and "available: ['flagship']" in result.stderr


@pytest.mark.slow
def test_all_lists_every_model_side_by_side(models: Path, tmp_path: Path):
    """On a serving machine (no params.yaml) --all means every model in the directory."""
    paths = write_inputs(tmp_path / "inputs")
    for suffix, directory in ((".keras", "models"), (".onnx", "export")):
        (models / directory / f"lenet5{suffix}").write_bytes((models / directory / f"flagship{suffix}").read_bytes())
    for flag in ([], ["--onnx"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mnist_zoo.tools.predict",
                str(paths["seven.jpg"]),
                str(paths["seven.png"]),
                "--all",
                "--models-dir",
                str(models / "models"),
                "--export-dir",
                str(models / "export"),
                *flag,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
        )
        assert result.returncode == 0, result.stderr
        rows = [line.split()[:2] for line in result.stdout.strip().splitlines()[1:]]
        assert rows == [
            [str(paths[name]), model] for name in ("seven.jpg", "seven.png") for model in ("flagship", "lenet5")
        ]
    for suffix, directory in ((".keras", "models"), (".onnx", "export")):
        (models / directory / f"lenet5{suffix}").unlink()


def test_onnx_serving_imports_neither_tensorflow_nor_keras(models: Path, tmp_path: Path):
    paths = write_inputs(tmp_path / "inputs")
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['predict', {str(paths['seven.jpg'])!r}, '--onnx', '--json', "
        f"'--export-dir', {str(models / 'export')!r}]\n"
        "try:\n    runpy.run_module('mnist_zoo.tools.predict', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print([name for name in ('tensorflow', 'keras', 'jax', 'torch') if name in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert '"flagship"' in result.stdout  # it did predict


@pytest.mark.slow
def test_onnx_and_keras_agree_on_the_same_files(models: Path, tmp_path: Path):
    paths = write_inputs(tmp_path / "inputs")
    outputs = [
        json.loads(run_predict(models, str(paths["seven.png"]), str(paths["seven.npy"]), "--json", *flag).stdout)
        for flag in ([], ["--onnx"])
    ]
    for keras_record, onnx_record in zip(*outputs, strict=True):
        for keras_guess, onnx_guess in zip(
            keras_record["predictions"]["flagship"], onnx_record["predictions"]["flagship"], strict=True
        ):
            assert keras_guess["digit"] == onnx_guess["digit"]
            assert keras_guess["probability"] == pytest.approx(onnx_guess["probability"], abs=1e-5)


MNIST_MIRROR = os.environ.get("MNIST_MIRROR")


def real_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    from mnist_zoo.data.prepare import decode_split

    mirror = Path(MNIST_MIRROR)
    return decode_split(
        (mirror / f"{name}-images-idx3-ubyte.gz").read_bytes(),
        (mirror / f"{name}-labels-idx1-ubyte.gz").read_bytes(),
        name,
    )


def as_a_person_sends_it(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit as a photo or scan arrives: dark ink on white, a few hundred pixels, off-centre."""
    size = int(rng.integers(200, 400))
    ink = Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BICUBIC)
    page = Image.new("L", (size + int(rng.integers(50, 250)), size + int(rng.integers(50, 250))), 255)
    page.paste(ink, (int(rng.integers(0, page.width - size)), int(rng.integers(0, page.height - size))))
    return page.convert("RGB")


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_MIRROR, reason="set MNIST_MIRROR to a directory with the four MNIST *-ubyte.gz files")
def test_real_digits_sent_as_jpeg_photos_score_as_the_test_set(tmp_path: Path):
    """1,000 real test digits remade as a person's JPEGs: predict's accuracy is within half a point
    of the model's on the same digits as evaluate feeds them."""
    import keras

    from mnist_zoo.config import PREDICT_BATCH_SIZE
    from mnist_zoo.params import load_params
    from mnist_zoo.training.trainer import train_variant

    # The flagship's recipe on 8,000 images for 3 epochs (~98%). Batch 32 gives its batch norm
    # enough steps (750) for the moving statistics to forget their initial values.
    params = load_params()
    spec = {**params["model"], "epochs": 3, "batch_size": 32}
    train_images, train_labels = real_split("train")
    model, _ = train_variant(
        params,
        spec,
        (train_images[:8000, ..., None], train_labels[:8000].astype(np.int32)),
        (train_images[-2000:, ..., None], train_labels[-2000:].astype(np.int32)),
        seed=0,
    )
    (tmp_path / "models").mkdir()
    model.save(tmp_path / "models" / "flagship.keras")

    test_images, test_labels = real_split("t10k")
    rng = np.random.default_rng(7)
    chosen = rng.choice(len(test_labels), size=1000, replace=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in chosen:
        as_a_person_sends_it(test_images[index], rng).save(photos / f"{index:05d}.jpg", "JPEG", quality=85)

    probabilities = keras.saving.load_model(tmp_path / "models" / "flagship.keras").predict(
        test_images[chosen, ..., None], batch_size=PREDICT_BATCH_SIZE, verbose=0
    )
    evaluate_accuracy = float(np.mean(probabilities.argmax(axis=1) == test_labels[chosen]))
    result = run_predict(tmp_path, str(photos), "--json", "--no-check")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert len(records) == 1000
    predicted = np.array([record["predictions"]["flagship"][0]["digit"] for record in records])
    truth = np.array([test_labels[int(Path(record["file"]).stem)] for record in records])
    predict_accuracy = float(np.mean(predicted == truth))
    assert evaluate_accuracy > 0.95  # a model worth asking
    assert abs(predict_accuracy - evaluate_accuracy) <= 0.005, (predict_accuracy, evaluate_accuracy)

    # With its "not a digit" thresholds (chosen as robustness@flagship chooses them, on held-out
    # digits at 95%), predict still reads the photos and answers "not a digit" for pure noise.
    from mnist_zoo.data import typicality
    from mnist_zoo.evaluation import robustness

    basis = typicality.fit(train_images[:8000:2], num_components=100)
    typicality.write(tmp_path / "typicality.npz", basis)
    held_out = train_images[-2000:, ..., None]
    scores = typicality.digit_scores(model.predict(held_out, verbose=0), held_out, basis)
    figures = robustness.not_a_digit(scores, scores, {}, true_positive_rate=0.95)
    (tmp_path / "robustness").mkdir()
    (tmp_path / "robustness/flagship.json").write_text(json.dumps({"not_a_digit": figures}))
    noise = tmp_path / "noise"
    noise.mkdir()
    for index, size in enumerate((28, 64, 100, 250, 600)):
        grey = rng.integers(0, 256, (size, size + index * 7), dtype=np.uint8)
        Image.fromarray(grey).save(noise / f"grey_{size}.png")
        Image.fromarray(np.stack([grey, grey[::-1], grey[:, ::-1]], axis=-1)).save(noise / f"colour_{size}.jpg")
    checked = run_predict(tmp_path, str(photos), str(noise), "--json")
    assert checked.returncode == 0, checked.stderr
    answers = {Path(record["file"]).name: record["answer"]["flagship"] for record in json.loads(checked.stdout)}
    assert {answers[path.name] for path in noise.iterdir()} == {predict_module.NOT_A_DIGIT}
    read = [(int(name[:5]), answer) for name, answer in answers.items() if name[:5].isdigit()]
    digits_read = [(index, answer) for index, answer in read if answer != predict_module.NOT_A_DIGIT]
    assert len(read) == 1000 and len(digits_read) >= 0.9 * len(read), len(digits_read)
    assert np.mean([answer == test_labels[index] for index, answer in digits_read]) >= predict_accuracy
