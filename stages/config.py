"""Loads params.yaml and resolves a variant name to its section; shared by every stage."""

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml

from stages.schema import BACKENDS, check_params  # BACKENDS: what `backend:` may say, the default first

PARAMS_PATH = Path("params.yaml")

# Variant names become DVC stage ids (train@lenet5) and file names, so keep them boring.
VARIANT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    """Read params.yaml as a plain dict, checked against stages.schema."""
    with open(path) as file:
        params = yaml.safe_load(file)
    if not isinstance(params, dict):
        raise ValueError(f"{path} must be a YAML mapping, got {type(params).__name__}.")
    check_params(params)  # every stage calls this first, so a bad value stops it before any data
    return params


def check_variant_name(name: str) -> None:
    """Refuse names that would make unsafe stage ids or file names."""
    if not VARIANT_NAME_PATTERN.match(name):
        raise ValueError(
            f"Variant name {name!r} is not a safe file name: use lower-case letters, "
            "digits and underscores, starting with a letter (e.g. 'lenet5')."
        )


def variant_spec(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the params section that defines variant `name` (via train.variants or
    train.transfer_variants)."""
    check_variant_name(name)
    train = params.get("train", {})
    catalogue = {**(train.get("variants") or {}), **(train.get("transfer_variants") or {})}
    if name not in catalogue:
        raise ValueError(
            f"Unknown variant {name!r} in train.variants or train.transfer_variants; "
            f"valid options: {sorted(catalogue)}."
        )
    section: Any = params
    for key in str(catalogue[name]).split("."):
        if not isinstance(section, dict) or key not in section:
            raise ValueError(
                f"train.(transfer_)variants.{name} points at params section {catalogue[name]!r}, "
                "which params.yaml does not have."
            )
        section = section[key]
    return dict(section)


def variant_backend(name: str, spec: dict[str, Any]) -> str:
    """The Keras backend variant `name` asks for with its `backend` key (default TensorFlow)."""
    backend = spec.get("backend", BACKENDS[0])
    if backend not in BACKENDS:
        raise ValueError(f"{name}.backend is {backend!r}; valid options: {list(BACKENDS)}.")
    return backend


def apply_backend(name: str) -> None:
    """Point KERAS_BACKEND at variant `name`'s backend unless the environment already sets it
    (e.g. the whole zoo on JAX on a GPU machine). Call before Keras is first imported: Keras fixes
    its backend then."""
    os.environ.setdefault("KERAS_BACKEND", variant_backend(name, variant_spec(load_params(), name)))


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path` to write to; on success it becomes `path` (readable by all,
    by rename, so readers never see half a file), on any error it is removed and `path` untouched.
    For writers that want a path (Keras' save and export) as much as for bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(temp_name)
        os.chmod(temp_name, 0o644)  # mkstemp's 0600 would hide outputs from other users
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` via a temp file and rename, so readers never see half a file."""
    with atomic_path(path) as temp_path:
        temp_path.write_bytes(payload)


def write_json(path: Path, data: Any) -> None:
    """Write pretty, key-sorted JSON atomically (sorted keys keep git diffs small)."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def save_figure(figure: "matplotlib.figure.Figure", path: Path) -> None:  # noqa: F821
    """Render a matplotlib figure to PNG atomically; no version stamp, so the bytes are stable."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
