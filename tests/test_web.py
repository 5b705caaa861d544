"""The zoo in a browser (issue 28): the site stage's output, the page's JavaScript held to Python's
normalisation and ONNX Runtime on real drawings under Node's test runner, and a real browser
drawing real test digits on the page and reading the flagship's answers."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_zoo.reporting import leaderboard, site
from tests.browser import CHROMEDRIVER, CHROMIUM, answer, chromium, draw, mnist_split, open_page, serve
from tests.conftest import PROJECT_ROOT

MNIST_MIRROR = os.environ.get("MNIST_MIRROR")
NODE = shutil.which("node")
RUNTIME_INSTALLED = not site.missing_runtime(PROJECT_ROOT / site.VENDOR_DIR)
needs_mnist = pytest.mark.skipif(not MNIST_MIRROR, reason="set MNIST_MIRROR to the four real MNIST *-ubyte.gz files")
needs_node = pytest.mark.skipif(
    not (NODE and RUNTIME_INSTALLED), reason="needs Node.js and `npm ci` (web/vendor/ holds ONNX Runtime Web)"
)
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Debian's chromium and chromium-driver"
)
DRAWINGS = 1000
BROWSER_DIGITS = 20


@pytest.fixture(scope="module")
def flagship(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real flagship (tests/web_model.py: the recipe for 2 epochs on 30,000 MNIST digits), its ONNX
    export, typicality basis and "not a digit" thresholds."""
    out = tmp_path_factory.mktemp("flagship")
    subprocess.run(
        [sys.executable, "-m", "tests.web_model", str(out)], cwd=PROJECT_ROOT, check=True, capture_output=True
    )
    return out


def as_drawings(images: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each digit as a person's drawing: upscaled 3-10x, placed off-centre on a larger canvas of
    its own size; every other one dark ink on light paper."""
    rng = np.random.default_rng(seed)
    drawings = []
    for index, digit in enumerate(images):
        side = round(28 * rng.uniform(3, 10))
        big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
        width, height = rng.integers(side + 10, 2 * side + 40, size=2)
        canvas = np.zeros((height, width), dtype=np.uint8)
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        canvas[top : top + side, left : left + side] = big
        drawings.append(255 - canvas if index % 2 else canvas)
    return drawings


def node_test(path: str, environment: dict[str, str]) -> str:
    """Run one of web/test/'s files under Node's test runner; its TAP output, failing on a failure."""
    result = subprocess.run(
        [NODE, "--test", path], cwd=PROJECT_ROOT, env={**os.environ, **environment}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


@needs_node
def test_the_page_modules_pass_their_own_node_tests():
    output = node_test("web/test/normalise.test.mjs", {})
    assert "# fail 0" in output and "# pass 7" in output, output


@pytest.mark.slow
@needs_node
@needs_mnist
def test_the_page_reads_drawings_as_python_does(flagship: Path, tmp_path: Path):
    """1,000 real test digits as drawings: the JavaScript normalisation within 1 grey level of
    Python's on average, ONNX Runtime Web's digit Python ONNX Runtime's on at least 99.5%, and the
    typicality scores Python's."""
    from mnist_zoo.data.digits import normalise
    from mnist_zoo.data.typicality import load as load_typicality
    from mnist_zoo.data.typicality import typicalities
    from mnist_zoo.shipping.inference import onnx_classifier, predict_in_batches

    images, _ = mnist_split("test")
    drawings = as_drawings(images[:DRAWINGS], seed=28)
    python = np.stack([normalise(drawing.astype(np.float32)) for drawing in drawings])
    digits = predict_in_batches(onnx_classifier(flagship / "flagship.onnx"), python[..., None]).argmax(axis=1)
    basis = load_typicality(flagship / "typicality.npz")
    scores = typicalities(python, basis)
    index, offset = [], 0
    for number, drawing in enumerate(drawings):
        height, width = drawing.shape
        entry = {"offset": offset, "width": width, "height": height, "python_digit": int(digits[number])}
        index.append({**entry, "python_scores": {name: float(values[number]) for name, values in scores.items()}})
        offset += drawing.size
    (tmp_path / "drawings.bin").write_bytes(b"".join(drawing.tobytes() for drawing in drawings))
    (tmp_path / "python.bin").write_bytes(python.astype("<f4").tobytes())
    (tmp_path / "index.json").write_text(json.dumps(index))
    (tmp_path / "typicality.bin").write_bytes(site.typicality_payload(basis))
    (tmp_path / "typicality.json").write_text(
        json.dumps({"pixels": 784, "components": len(basis.components), "reference": len(basis.reference)})
    )
    shutil.copyfile(flagship / "flagship.onnx", tmp_path / "model.onnx")

    output = node_test("web/test/parity.test.mjs", {"PARITY_FIXTURES": str(tmp_path)})
    assert "# pass 1" in output and "# skipped 0" in output, output  # it ran, and passed
    figures = json.loads(next(line[2:] for line in output.splitlines() if line.startswith('# {"drawings"')))
    assert figures["drawings"] == DRAWINGS and figures["meanDifference"] <= 1 and figures["agreement"] >= 0.995


def site_inputs(root: Path, flagship: Path | None = None) -> site.Sources:
    """The page's inputs for one variant, the flagship: its export, thresholds and basis from
    `flagship` (else a stand-in file), a summary, a card and two figures."""
    sources = site.Sources(
        web=root / "web",
        export=root / "export",
        robustness=root / "robustness",
        confusion=root / "confusion",
        misclassified=root / "misclassified",
        results=root / "results",
    )
    shutil.copytree(PROJECT_ROOT / "web", sources.web, ignore=shutil.ignore_patterns("test", *site.RUNTIME_FILES))
    sources.export.mkdir()
    if flagship:
        shutil.copytree(flagship / "robustness", sources.robustness)
        for name in ("flagship.onnx", "typicality.npz"):
            shutil.copyfile(flagship / name, sources.export / name)
    else:
        (sources.export / "flagship.onnx").write_bytes(b"onnx")
    (sources.results / "cards").mkdir(parents=True)
    (sources.results / "metrics.json").write_text(
        json.dumps(
            {"accuracy": {"flagship": 0.99}, "epochs": {"flagship": 2}, "images_per_second": {"flagship": 27932.5}}
        )
    )
    (sources.results / "cards" / "flagship.md").write_text(
        "# Model card: flagship\n\nIts **recipe**:\n\n```yaml\nfilters: 16\n```\n\n- accuracy 99.00%\n- `x < y`\n"
    )
    for folder in (sources.confusion, sources.misclassified):
        folder.mkdir()
        Image.new("L", (40, 30), 128).save(folder / "flagship.png")
    return sources


def test_the_page_is_built_from_the_exports_cards_and_figures(tmp_path: Path):
    sources = site_inputs(tmp_path)
    for name in site.RUNTIME_FILES:
        (sources.web / "vendor" / name).write_bytes(b"runtime")
    assert site.build(["flagship"], tmp_path / "site", sources, training_images=10_000)
    data = json.loads((tmp_path / "site" / "data.json").read_text())
    (flagship,) = data["variants"]
    assert flagship["accuracy"] == 0.99 and flagship["epochs"] == 2 and flagship["model_bytes"] == 4
    assert data["training_images"] == 10_000 and data["typicality"] is None and flagship["thresholds"] is None
    assert "<h3>Model card: flagship</h3>" in flagship["card"] and "<li><code>x &lt; y</code></li>" in flagship["card"]
    assert (
        "<strong>recipe</strong>" in flagship["card"] and "<pre><code>\nfilters: 16\n</code></pre>" in flagship["card"]
    )
    for path in (flagship["model"], flagship["confusion"], flagship["misclassified"], *site.PAGE_FILES):
        assert (tmp_path / "site" / path).is_file(), path
    assert sorted(path.name for path in (tmp_path / "site" / "vendor").iterdir()) == sorted(site.RUNTIME_FILES)


def test_without_onnx_runtime_web_the_page_says_how_to_enable_it(tmp_path: Path):
    sources = site_inputs(tmp_path)  # web/vendor/ as in git: no runtime
    assert not site.build(["flagship"], tmp_path / "site", sources, training_images=None)
    assert [path.name for path in (tmp_path / "site").iterdir()] == ["index.html"]
    assert "npm ci" in (tmp_path / "site" / "index.html").read_text()


def test_a_missing_input_is_named_and_the_old_page_stays(tmp_path: Path):
    sources = site_inputs(tmp_path)
    for name in site.RUNTIME_FILES:
        (sources.web / "vendor" / name).write_bytes(b"runtime")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("the old page")
    (sources.results / "cards" / "flagship.md").unlink()
    with pytest.raises(FileNotFoundError, match=r"cards/flagship\.md: missing; report writes it"):
        site.build(["flagship"], tmp_path / "site", sources, training_images=None)
    assert [path.name for path in tmp_path.glob("*site*")] == ["site"]  # no half-built folder left
    assert (tmp_path / "site" / "index.html").read_text() == "the old page"


@pytest.mark.slow
@needs_node
@needs_browser
@needs_mnist
def test_a_person_draws_digits_in_a_real_browser(flagship: Path, tmp_path: Path):
    """Headless Chromium on the built page, served from 127.0.0.1: 20 real test digits drawn with the
    mouse along their strokes; the flagship's digit is right on at least 19. A scrawl of lines is
    "not a digit". The screenshot is kept beside the test's files."""
    sources = site_inputs(tmp_path / "inputs", flagship)
    for name in site.RUNTIME_FILES:
        shutil.copyfile(PROJECT_ROOT / site.VENDOR_DIR / name, sources.web / "vendor" / name)
    assert site.build(["flagship"], tmp_path / "site", sources, training_images=30_000)
    images, labels = mnist_split("test")
    answers = []
    downloads = tmp_path / "downloads"
    with serve(tmp_path / "site") as url, chromium(tmp_path / "profile", downloads) as driver:
        open_page(driver, url)
        assert "reduced profile (30,000 training images" in driver.find_element("id", "profile").text
        saved = save_drawings(driver, images[:3], labels[:3], downloads)
        # The leaderboard's columns are data.json's, from leaderboard.FIGURES: the README's headers,
        # and each value written as the README writes it.
        headers = [cell.text for cell in driver.find_elements("css selector", "#leaderboard th")]
        assert headers == ["Model", *(figure.header for figure in leaderboard.FIGURES)]
        row = dict(
            zip(headers, (cell.text for cell in driver.find_elements("css selector", "#leaderboard td")), strict=True)
        )
        figures = {figure.header: figure for figure in leaderboard.FIGURES}
        assert row["Test accuracy"] == leaderboard.cell(figures["Test accuracy"], 0.99) == "99.00%"
        assert row["Epochs"] == leaderboard.cell(figures["Epochs"], 2)
        assert row["Images/s"] == leaderboard.cell(figures["Images/s"], 27932.5) == "27,932"  # a tie, rounded alike
        for digit in images[:BROWSER_DIGITS]:
            draw(driver, digit)
            answers.append(answer(driver, "flagship"))
        driver.save_screenshot(str(tmp_path / "page.png"))
        scrawl = np.zeros((28, 28), dtype=np.uint8)
        scrawl[2:26:4, 2:26] = 255  # six long parallel strokes
        scrawl[2:26, 2:26:6] = 255
        draw(driver, scrawl)
        not_a_digit = answer(driver, "flagship")
    labels = [str(label) for label in labels[:BROWSER_DIGITS]]
    right = sum(found["top"] == label for found, label in zip(answers, labels, strict=True))
    assert right >= BROWSER_DIGITS - 1, list(zip(answers, labels, strict=True))
    for found in answers:  # the page shows the top digit, or "not a digit" where a threshold fails
        assert found["verdict"] == (found["top"] if found["state"] == "digit" else "not a digit"), found
    assert sum(found["state"] == "digit" for found in answers) >= BROWSER_DIGITS // 2, answers
    assert not_a_digit["state"] == "not-a-digit" and not_a_digit["verdict"] == "not a digit", not_a_digit
    assert Image.open(tmp_path / "page.png").size[0] >= 1000

    # The saved drawings, filed by `mnist-digits add`, are that writer's digits with their labels,
    # read as the page read them (the page's normalisation is held to Python's above).
    from mnist_zoo.data.own_digits import read_own_digits
    from mnist_zoo.tools import digits as filing

    assert filing.main(["add", *map(str, saved), "--to", str(tmp_path / "digits")]) == 0
    mine = read_own_digits(tmp_path / "digits")
    assert set(mine.writers) == {"ann-lee"} and mine.labels.tolist() == sorted(int(label) for label in labels[:3])


def save_drawings(driver, images: np.ndarray, labels: np.ndarray, downloads: Path) -> list[Path]:
    """Save each digit drawn, as a person would: the writer's name typed (with a space and capitals,
    which the page makes a name), the digit chosen, Save. First the refusals: an empty canvas, no name."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "clear").click()
    driver.find_element(By.ID, "save-button").click()
    assert "draw a digit first" in driver.find_element(By.ID, "status").text
    draw(driver, images[0])
    driver.find_element(By.ID, "save-button").click()
    assert "writer's name first" in driver.find_element(By.ID, "status").text
    driver.find_element(By.ID, "writer").send_keys("Ann Lee")
    saved = []
    for image, label in zip(images, labels, strict=True):
        draw(driver, image)
        Select(driver.find_element(By.ID, "label")).select_by_visible_text(str(label))
        driver.execute_script("delete document.body.dataset.saved")
        driver.find_element(By.ID, "save-button").click()
        name = WebDriverWait(driver, 30).until(lambda page: page.execute_script("return document.body.dataset.saved"))
        assert name.startswith(f"ann-lee_{label}_") and name.endswith(".png"), name
        WebDriverWait(driver, 30).until(lambda _, path=downloads / name: path.is_file())
        saved.append(downloads / name)
        time.sleep(0.01)  # the next name's millisecond differs
    return saved
