"""A person at the page, for the tests and the README's screenshot: a static file server on
127.0.0.1, headless Chromium from Debian's packages driven by Selenium, and real MNIST test digits
drawn on the canvas with the mouse along their strokes (tests/strokes.py).

`python -m tests.browser SITE PNG [INDEX ...]` draws those test digits (MNIST_MIRROR) on the built
page in SITE and writes a screenshot of the last to PNG.
"""

import contextlib
import functools
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.strokes import strokes

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless, no sandbox (CI runs as root), and none of the background connections a closed
# network refuses at every start.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)
CANVAS = 280  # the page's canvas, in CSS pixels
SCALE = 8  # a 28x28 digit drawn 224 pixels high, as a person fills the box
TIMEOUT = 120  # seconds for the page to load or answer


def mnist_split(split: str) -> tuple:
    """The real MNIST `split` ("train" or "test") from $MNIST_MIRROR: uint8 images, labels."""
    from mnist_zoo.data.prepare import IDX_FILES, decode_split

    mirror = Path(os.environ["MNIST_MIRROR"])
    return decode_split(*((mirror / name).read_bytes() for name in IDX_FILES[split]), split)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    with running(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url


@contextlib.contextmanager
def running(server: http.server.HTTPServer) -> Iterator[str]:
    """Run `server` (bound to 127.0.0.1) in a thread while the block runs; yields its URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def chromium(profile: Path, downloads: Path | None = None) -> Iterator["webdriver.Chrome"]:  # noqa: F821
    """Debian's Chromium through its ChromeDriver, with a fresh profile (saving downloads in
    `downloads`, unasked); always quit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if downloads is not None:
        options.add_experimental_option(
            "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
        )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "index.html")
    WebDriverWait(driver, TIMEOUT).until(lambda page: page.execute_script("return document.body.dataset.ready"))


def draw(driver, digit) -> None:
    """Clear the canvas, then draw `digit` (28x28, light ink on dark) stroke by stroke with the mouse."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "clear").click()
    canvas = driver.find_element(By.ID, "canvas")
    margin = (CANVAS - 28 * SCALE) // 2
    actions = ActionChains(driver, duration=0)
    for path in strokes(digit):
        # Offsets from the canvas' centre, as Selenium counts them.
        points = [(margin + x * SCALE - CANVAS // 2, margin + y * SCALE - CANVAS // 2) for x, y in path]
        actions.move_to_element_with_offset(canvas, *points[0]).click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            actions.move_by_offset(x1 - x0, y1 - y0)
        actions.release()
    actions.perform()


def answer(driver, name: str) -> dict[str, str]:
    """Model `name`'s answer to the drawing as it stands, once the page has given it: its top digit
    (the first of its top three), the verdict it shows ("not a digit" or the digit) and its state."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = f"""
        const panel = document.getElementById('answer-{name}');
        if (panel.dataset.drawing !== document.body.dataset.drawing) return null;
        const first = panel.querySelector('.bar span');
        return {{state: panel.dataset.state, top: first ? first.textContent : '',
                 verdict: panel.querySelector('.verdict').textContent}};
    """
    return WebDriverWait(driver, TIMEOUT).until(lambda page: page.execute_script(script))


def main(site: Path, screenshot: Path, indices: list[int]) -> None:
    import tempfile

    images, labels = mnist_split("test")
    with serve(site) as url, tempfile.TemporaryDirectory() as profile, chromium(Path(profile)) as driver:
        open_page(driver, url)
        for index in indices:
            draw(driver, images[index])
            print(f"test digit {index} (a {labels[index]}): flagship {answer(driver, 'flagship')}")
        driver.save_screenshot(str(screenshot))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), [int(index) for index in sys.argv[3:]] or [0])
