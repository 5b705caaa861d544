"""Shared fixtures: tiny synthetic MNIST-shaped data and throwaway copies of the project."""

import gzip
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mnist_zoo.config import CATALOG_PATH, CORRECTIONS_PATH, DATA_INPUTS_PATH
from mnist_zoo.data.catalog import inputs_json, write_catalog
from mnist_zoo.data.corrections import pixel_sha256
from tests.code_deps import PIPELINE_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The real data the end-to-end tests run on: MNIST, QMNIST's extended labels (each digit's writer)
# and Fashion-MNIST's test set (the "not a digit" images).
MIRROR_VARIABLES = ("MNIST_MIRROR", "QMNIST_MIRROR", "FASHION_MNIST_MIRROR")
REAL_DATA = all(os.environ.get(variable) for variable in MIRROR_VARIABLES)
NEEDS_REAL_DATA = (
    "set MNIST_MIRROR, QMNIST_MIRROR and FASHION_MNIST_MIRROR to directories with the MNIST, QMNIST and "
    "Fashion-MNIST files"
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX (magic 0x08 = unsigned byte, then the dimension count)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_digits(num_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k lights up a k-specific 6x6 patch, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_images) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(num_images, 28, 28))
    for index, label in enumerate(labels):
        row, column = divmod(int(label), 4)
        images[index, 2 + 8 * row : 8 + 8 * row, 2 + 6 * column : 8 + 6 * column] = 250
    return images.astype(np.uint8), labels.astype(np.uint8)


# Synthetic writers: training digits by 30 writers, test digits by 10 others; odd writers are students.
NUM_TRAIN_WRITERS, NUM_TEST_WRITERS, FIRST_TEST_WRITER = 30, 10, 1000


def synthetic_writers(num_images: int, source: str) -> np.ndarray:
    """Each synthetic digit's writer: round robin over the source's writers."""
    if source == "train":
        return np.arange(num_images) % NUM_TRAIN_WRITERS
    return FIRST_TEST_WRITER + np.arange(num_images) % NUM_TEST_WRITERS


def qmnist_bytes(labels: np.ndarray, writers: np.ndarray) -> bytes:
    """QMNIST's extended labels for `labels`: IDX of int32 rows of 8 columns (class, series, writer, ...)."""
    table = np.zeros((len(labels), 8), dtype=">i4")
    table[:, 0], table[:, 1], table[:, 2] = labels, np.where(writers % 2, 4, 0), writers
    return (0x0C02).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + (8).to_bytes(4, "big") + table.tobytes()


def write_mnist_gz(directory: Path, num_train: int = 300, num_test: int = 100) -> dict[str, bytes]:
    """The four MNIST file names and QMNIST's two, holding synthetic data; returns their gzip bytes by name."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = synthetic_digits(num_train, seed=1)
    test_images, test_labels = synthetic_digits(num_test, seed=2)
    files = {
        "train-images-idx3-ubyte.gz": idx_bytes(train_images),
        "train-labels-idx1-ubyte.gz": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte.gz": idx_bytes(test_images),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(test_labels),
        "qmnist-train-labels-idx2-int.gz": qmnist_bytes(train_labels, synthetic_writers(num_train, "train")),
        "qmnist-test-labels-idx2-int.gz": qmnist_bytes(test_labels, synthetic_writers(num_test, "test")),
    }
    payloads = {name: gzip.compress(content, mtime=0) for name, content in files.items()}
    for name, payload in payloads.items():
        (directory / name).write_bytes(payload)
    return payloads


@pytest.fixture
def synthetic_mirror(tmp_path: Path) -> Path:
    write_mnist_gz(tmp_path / "mirror")
    return tmp_path / "mirror"


@pytest.fixture
def in_tmp_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd = a temp dir holding a copy of params.yaml, for calling stage main()s directly."""
    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def update_params(path: Path, updates: dict) -> None:
    """Set dotted keys (e.g. 'data.subset') in a params.yaml."""
    params = yaml.safe_load(path.read_text())
    for dotted, value in updates.items():
        section = params
        *parents, last = dotted.split(".")
        for key in parents:
            section = section[key]
        section[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def spy_on_fit(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[dict[str, Any]]:
    """Make `module.fit` (mnist_zoo.training.trainer's, or the name a module imported it as) record the arguments
    of each call by parameter name, then fit as before; return the list it appends to."""
    calls, original_fit = [], module.fit

    def recording_fit(*args, **kwargs):
        calls.append(inspect.signature(original_fit).bind(*args, **kwargs).arguments)
        return original_fit(*args, **kwargs)

    monkeypatch.setattr(module, "fit", recording_fit)
    return calls


def run(command: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output if it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def resolved_mirrors() -> dict[str, str]:
    """The mirror variables that are set, as absolute paths: a command run in another directory
    (a project copy, a clone) still finds the data."""
    return {
        variable: str(Path(os.environ[variable]).resolve()) for variable in MIRROR_VARIABLES if os.environ.get(variable)
    }


def dvc_result(repo: Path, *arguments: str, **extra_environment: str) -> subprocess.CompletedProcess:
    """Run this environment's dvc in `repo` with the mirror variables resolved, whatever its exit status."""
    environment = dict(os.environ, **extra_environment) | resolved_mirrors()
    return subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), *arguments],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
    )


def dvc(repo: Path, *arguments: str, **extra_environment: str) -> str:
    """dvc_result that fails the test with DVC's output unless dvc succeeded; returns stdout."""
    result = dvc_result(repo, *arguments, **extra_environment)
    if result.returncode:
        raise AssertionError(
            f"dvc {' '.join(arguments)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def stages_run(output: str) -> set[str]:
    """The stages a dvc repro / exp run actually ran (not restored, not skipped), by name: DVC names
    ship/dvc.yaml's stages with their file ('ship/dvc.yaml:export@lenet5'), this drops the file."""
    return set(re.findall(r"Running stage '(?:[^':]*dvc\.yaml:)?([^']+)'", output))


def lock_stages(repo: Path, rev: str | None = None) -> dict[str, dict]:
    """Every pipeline file's dvc.lock entries by stage name: the workspace's, or git revision `rev`'s."""
    stages = {}
    for pipeline in PIPELINE_FILES:
        lock = Path(pipeline).with_name("dvc.lock").as_posix()
        if rev:
            shown = subprocess.run(["git", "show", f"{rev}:{lock}"], cwd=repo, capture_output=True, text=True)
            text = shown.stdout if shown.returncode == 0 else ""
        else:
            text = (repo / lock).read_text() if (repo / lock).is_file() else ""
        stages |= (yaml.safe_load(text) or {}).get("stages", {})
    return stages


def experiments_in(show: object) -> list[dict]:
    """Every experiment record (name, params, metrics) in `dvc exp show --json` output."""
    found = []
    if isinstance(show, dict):
        if isinstance(show.get("data"), dict) and "params" in show["data"]:
            found.append({"name": show.get("name"), **show["data"]})
        for value in show.values():
            found += experiments_in(value)
    elif isinstance(show, list):
        for value in show:
            found += experiments_in(value)
    return found


# The real MNIST cut down for end-to-end runs: 400 training and 500 test images, two variants
# (one reference recipe and the flagship), one epoch each.
TINY_VARIANTS = {"lenet5": "variants.lenet5", "flagship": "model"}
TINY_PROFILE = {
    "data.subset": 400,
    "data.validation_size": 100,
    "data.test_subset": 500,
    "train.variants": TINY_VARIANTS,
    "variants.lenet5.epochs": 1,
    "model.epochs": 1,
    "model.filters": 4,
    "model.dense_units": 16,
    "model.optimizer.ema_momentum": 0.5,  # the recipe's 0.99 averages over more steps than 4
    "robustness.corruptions": ["rotate", "shot_noise"],
    "robustness.noise_images": 100,
    "robustness.typicality_components": 20,
}


def copy_project(destination: Path) -> Path:
    """A fresh git repo holding the project's tracked files (as a clone would), DVC cache empty."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_file() and not name.startswith(("data/", "metrics/", "plots/")) and Path(name).name != "dvc.lock":
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    run(["git", "init", "-q", "-b", "main"], destination)
    run(["git", "config", "user.email", "tests@example.com"], destination)
    run(["git", "config", "user.name", "tests"], destination)
    run(["git", "add", "-A"], destination)
    run(["git", "commit", "-q", "-m", "project copy"], destination)
    return destination


def synthetic_metadata(split: str, labels: np.ndarray, first: int = 0) -> dict[str, np.ndarray]:
    """What preprocess writes beside a split's images: ids (from index `first` of the source file),
    published labels, writers, writer groups."""
    source = "test" if split == "test" else "train"
    writers = synthetic_writers(len(labels), source)
    return {
        "published": labels,
        "ids": np.array([f"{source}:{first + index}" for index in range(len(labels))]),
        "writers": writers.astype(np.int32),
        "groups": np.where(writers % 2, "students", "employees"),
    }


def write_prepared(directory: Path, num_train: int = 200, num_validation: int = 60, num_test: int = 100) -> None:
    """data/prepared/: {train,validation,test,own}.npz of synthetic digits, the catalog and inputs.json,
    as preprocess writes them (validation's ids follow train's in the training file)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    firsts = {"train": 0, "validation": num_train, "test": 0}
    for seed, (split, count) in enumerate((("train", num_train), ("validation", num_validation), ("test", num_test))):
        images, labels = synthetic_digits(count, seed=10 + seed)
        metadata = synthetic_metadata(split, labels, firsts[split])
        np.savez(directory / f"{split}.npz", images=images, labels=labels, **metadata)
        rows.append(
            pd.DataFrame(
                {
                    "id": metadata["ids"],
                    "sha256": [pixel_sha256(image) for image in images],
                    "published": labels.astype(str),
                    "label": labels.astype(str),
                    "writer": metadata["writers"],
                    "group": metadata["groups"],
                    "split": split,
                }
            )
        )
    # Your writers' slice: ten digits by "you" (digits/you/<label>/<n>.png).
    images, labels = synthetic_digits(10, seed=20)
    ids = np.array([f"own:you/{label}/{index}.png" for index, label in enumerate(labels)])
    writers, groups = np.full(10, "you"), np.full(10, "own")
    np.savez(
        directory / "own.npz", images=images, labels=labels, published=labels, ids=ids, writers=writers, groups=groups
    )
    rows.append(
        pd.DataFrame(
            {
                "id": ids,
                "sha256": [pixel_sha256(image) for image in images],
                "published": labels.astype(str),
                "label": labels.astype(str),
                "writer": writers,
                "group": groups,
                "split": "own",
            }
        )
    )
    write_catalog(directory / CATALOG_PATH.name, pd.concat(rows, ignore_index=True))
    split = {"validation_split": "writer", "validation_size": num_validation, "split_seed": 0}
    (directory / DATA_INPUTS_PATH.name).write_bytes(inputs_json({}, CORRECTIONS_PATH, 0, split))


def trained_and_exported(name: str) -> dict:
    """What evaluate@<name> reads, made in this project: the trained model (its summary, returned)
    and its ONNX export, the model evaluate judges."""
    from stages import export, train

    summary = train.main(name)
    export.main(name)
    return summary


@pytest.fixture
def tiny_project(in_tmp_project: Path) -> Path:
    """A temp project dir with synthetic prepared tensors and quick recipes (2 epochs)."""
    write_prepared(in_tmp_project / "data" / "prepared")
    params = yaml.safe_load((in_tmp_project / "params.yaml").read_text())
    updates = {f"variants.{name}.epochs": 2 for name in params["variants"]}
    # The flagship averages its weights over ~100 steps (ema_momentum 0.99); these runs have a few.
    updates.update(
        {"model.epochs": 2, "model.filters": 4, "model.dense_units": 16, "model.optimizer.ema_momentum": 0.5}
    )
    update_params(in_tmp_project / "params.yaml", updates)
    return in_tmp_project


# The gate's and the comment's tests: two runs of two variants on 10,000 test images.
LABELS = (np.arange(10_000) % 10).astype(np.uint8)
DVC = str(Path(sys.executable).with_name("dvc"))


def write_side(wrong: dict[str, int]) -> None:
    """One side's outputs as the pipeline writes them: the summary (git) and, per variant, its digit
    per test image (DVC) with `wrong[variant]` mistakes, the first ones."""
    Path("results").mkdir(exist_ok=True)
    Path("metrics/predictions").mkdir(parents=True, exist_ok=True)
    accuracy = {}
    for name, count in wrong.items():
        digits = LABELS.copy()
        digits[:count] = (digits[:count] + 1) % 10
        np.save(f"metrics/predictions/{name}.npy", digits)
        accuracy[name] = 1 - count / len(LABELS)
    Path("results/metrics.json").write_text(json.dumps({"accuracy": accuracy}))


@pytest.fixture
def paired_runs(in_tmp_project: Path) -> Path:
    """A repo whose HEAD holds a base run (lenet5 and flagship, 100 mistakes each), the test labels
    in the workspace, and seed bands of 0.05 pp for both recipes."""
    run(["git", "init", "-q"], in_tmp_project)
    run([DVC, "init", "-q"], in_tmp_project)
    Path("data/prepared").mkdir(parents=True)
    np.savez("data/prepared/test.npz", images=np.zeros((len(LABELS), 28, 28), np.uint8), labels=LABELS)
    Path("dvc.yaml").write_text(
        "stages:\n  report:\n    cmd: 'true'\n    outs: [metrics/predictions]\n"
        "    metrics: [results/metrics.json: {cache: false}]\n"
    )
    from mnist_zoo.experiments import comparison
    from mnist_zoo.params import load_params, variant_spec

    params = load_params()
    bands = {
        "full": {
            name: comparison.seed_band(
                [0.9895, 0.99, 0.9905], comparison.recipe_fingerprint(params, variant_spec(params, name)), [42, 43, 44]
            )
            for name in ("lenet5", "flagship")
        }
    }
    Path("results").mkdir()
    Path("results/seed_bands.json").write_text(json.dumps(bands))
    write_side({"lenet5": 100, "flagship": 100})
    run([DVC, "commit", "-q", "--force"], in_tmp_project)
    run(["git", "add", "-A"], in_tmp_project)
    run(["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "base"], in_tmp_project)
    return in_tmp_project


PLAN_HERE = """
import sys
from mnist_zoo import runtime
runtime.start(sys.argv[1], override=True, quiet=False)
from mnist_zoo.training.devices import plan_for
from mnist_zoo.params import load_params, variant_spec
print(plan_for(variant_spec(load_params(), sys.argv[2])).describe())
"""


def plan_here(project: Path, backend: str, variant: str) -> str:
    """The plan line the train stage logs for `variant` of `project`'s params on `backend` on this
    machine: "backend jax on 1 x cpu (AMD EPYC), float32, ..." here, its GPU on a GPU machine. Asked
    in a child process, so no backend starts in the test's own."""
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    result = subprocess.run(
        [sys.executable, "-c", PLAN_HERE, backend, variant],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def has_accelerator() -> bool:
    """Whether this machine has an NVIDIA GPU (the device tests then expect it in the plan lines)."""
    from mnist_zoo.training.devices import NVIDIA_DEVICE

    return NVIDIA_DEVICE.exists()


# What TensorFlow, absl, oneDNN, CUDA and NumPy print when nothing holds them back (a person reads
# it as a failure); runtime.start keeps every stage and tool free of it.
LIBRARY_NOISE_MARKERS = (
    "absl::InitializeLog",
    "cuInit",
    "cuda",
    "oneDNN",
    "cpu_feature_guard",
    "rebuild TensorFlow",
    "FutureWarning",
    "Unable to initialize backend",
)


def library_noise(stderr: str) -> list[str]:
    """The lines of `stderr` that are the libraries' start-up chatter, not the project's own."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in LIBRARY_NOISE_MARKERS)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier's promise, kept: a test skipped without the real data (a skip reason naming
    MNIST_MIRROR or FASHION_MNIST_MIRROR) must be marked slow, or the run stops here, naming it."""
    for item in items:
        reasons = [str(mark.kwargs.get("reason", "")) for mark in item.iter_markers("skipif")]
        if any("MNIST_MIRROR" in reason for reason in reasons) and item.get_closest_marker("slow") is None:
            raise pytest.UsageError(
                f"{item.nodeid} needs the real MNIST: mark it @pytest.mark.slow (docs/extending.md)"
            )


def readme_compare_command() -> list[str]:
    """The README's compact `dvc exp show` (the block that starts `dvc exp show --only-changed`)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(dvc exp show --only-changed.*?)\n```", readme, flags=re.S).group(1)
    return shlex.split(block.replace("\\\n", " "))
