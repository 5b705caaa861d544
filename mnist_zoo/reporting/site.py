"""The zoo as a static page: draw a digit and every default variant answers, in the browser, through
ONNX Runtime Web on the very ONNX exports `dvc repro` made and checked. Beside it, the leaderboard
and each model's card, confusion matrix and worst mistakes. The page is plain files (web/: HTML,
CSS and ES modules, no build step); any static host serves the folder this writes.

ONNX Runtime Web comes from npm (package.json pins it, `npm ci` installs it, and its postinstall
copies the three files the page needs, the CPU WebAssembly build, into web/vendor/). Without Node,
the stage writes a page that says how to enable it, so the default `dvc repro` needs only Python.
"""

import html
import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mnist_zoo.data.typicality import Typicality
from mnist_zoo.reporting.leaderboard import page_columns
from mnist_zoo.reporting.markdown_html import markdown_html

SITE_DIR = Path("site")  # what the stage writes: the page, ready to serve
WEB_DIR = Path("web")  # the page's own files, in git
VENDOR_DIR = WEB_DIR / "vendor"
PAGE_FILES = ("index.html", "app.js", "normalise.js", "typicality.js", "style.css")
# onnxruntime-web's CPU build: the module, its WebAssembly loader and the WebAssembly itself.
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ENABLE = "install Node.js (18 or later), run `npm ci`, then `dvc repro site`"


class Sources(NamedTuple):
    """Where the page's inputs live: the project's own folders (config), or a test's."""

    web: Path
    export: Path
    robustness: Path
    confusion: Path
    misclassified: Path
    results: Path


def missing_runtime(vendor_dir: Path) -> list[str]:
    return [name for name in RUNTIME_FILES if not (vendor_dir / name).is_file()]


def typicality_payload(basis: Typicality) -> bytes:
    """The basis as the page reads it: float32, little-endian, the mean (784), then the components
    (K rows of 784), then the reference digits' coordinates (N rows of K)."""
    return b"".join(np.ascontiguousarray(part, dtype="<f4").tobytes() for part in basis)


def page_data(
    names: list[str],
    summary: dict[str, Any],
    robustness: dict[str, dict[str, Any] | None],
    cards: dict[str, str],
    basis: Typicality | None,
    training_images: int | None,
    model_bytes: dict[str, int],
) -> dict[str, Any]:
    """Everything the page shows besides the models: data.json."""
    columns, variants = page_columns(), []
    for name in names:
        figures = {column["key"]: summary.get(column["key"], {}).get(name) for column in columns}
        thresholds = (robustness[name] or {}).get("not_a_digit", {}).get("threshold")
        variants.append(
            {
                "name": name,
                **figures,
                "thresholds": thresholds if basis is not None else None,
                "model": f"models/{name}.onnx",
                "model_bytes": model_bytes[name],
                "confusion": f"plots/{name}.confusion.png",
                "misclassified": f"plots/{name}.misclassified.png",
                "card": markdown_html(cards[name]),
            }
        )
    return {
        "columns": columns,  # the leaderboard's: the same figures, headers and formats as the README's
        "variants": variants,
        "typicality": None
        if basis is None
        else {
            "file": "typicality.bin",
            "pixels": int(basis.mean.size),
            "components": int(basis.components.shape[0]),
            "reference": int(basis.reference.shape[0]),
        },
        # None: the full recipes on MNIST's 60,000 training images; else a reduced profile's size.
        "training_images": training_images,
    }


def placeholder_page(reason: str) -> str:
    return (
        "<!doctype html><meta charset='utf-8'><title>MNIST zoo: page not built</title>"
        f"<p>The page was not built: {html.escape(reason)}.</p>"
        f"<p>To build it, {html.escape(ENABLE)}.</p>\n"
    )


def build(names: list[str], output: Path, sources: Sources, training_images: int | None) -> bool:
    """Write the page for variants `names` to `output` (replaced whole, via a temp folder, so a
    failure leaves no half page). Returns False (and writes a page saying how to enable it) where
    ONNX Runtime Web is not installed; raises naming the missing input where one is missing."""
    staging = output.with_name(f".{output.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        missing = missing_runtime(sources.web / "vendor")
        if missing:
            reason = f"ONNX Runtime Web is not installed ({', '.join(missing)} missing from {sources.web / 'vendor'})"
            (staging / "index.html").write_text(placeholder_page(reason))
        else:
            write_page(names, staging, sources, training_images)
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return not missing


def required(path: Path, made_by: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; {made_by} writes it (run `dvc repro {made_by}`).")
    return path


def write_page(names: list[str], site: Path, sources: Sources, training_images: int | None) -> None:
    from mnist_zoo.data.typicality import load as load_typicality

    summary = json.loads(required(sources.results / "metrics.json", "report").read_text())
    cards = {name: required(sources.results / "cards" / f"{name}.md", "report").read_text() for name in names}
    for folder in ("models", "plots", "vendor"):
        (site / folder).mkdir()
    model_bytes, robustness = {}, {}
    for name in names:
        model = required(sources.export / f"{name}.onnx", f"ship/dvc.yaml:export@{name}")
        shutil.copyfile(model, site / "models" / f"{name}.onnx")
        model_bytes[name] = model.stat().st_size
        for kind, folder in (("confusion", sources.confusion), ("misclassified", sources.misclassified)):
            shutil.copyfile(required(folder / f"{name}.png", f"evaluate@{name}"), site / "plots" / f"{name}.{kind}.png")
        figures = sources.robustness / f"{name}.json"
        robustness[name] = json.loads(figures.read_text()) if figures.is_file() else None
    typicality_path = sources.export / "typicality.npz"
    basis = load_typicality(typicality_path) if typicality_path.is_file() else None
    if basis is not None:
        (site / "typicality.bin").write_bytes(typicality_payload(basis))
    for name in PAGE_FILES:
        shutil.copyfile(sources.web / name, site / name)
    for name in RUNTIME_FILES:
        shutil.copyfile(sources.web / "vendor" / name, site / "vendor" / name)
    data = page_data(names, summary, robustness, cards, basis, training_images, model_bytes)
    (site / "data.json").write_text(json.dumps(data, indent=1) + "\n")
