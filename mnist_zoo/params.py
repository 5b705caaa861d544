"""params.yaml, the control panel: loaded and checked as a whole by the schema (mnist_zoo.schema)
before any stage reads data, and a variant name resolved to the params section that defines it."""

from pathlib import Path
from typing import Any

import yaml

from mnist_zoo.config import PARAMS_PATH
from mnist_zoo.schema import BACKENDS, check_params


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    """params.yaml as a plain dict, every key checked by the schema (a ValueError names the first
    bad one), so a bad value stops a stage before any data is read."""
    with open(path) as file:
        params = yaml.safe_load(file)
    if not isinstance(params, dict):
        raise ValueError(f"{path} must be a YAML mapping, got {type(params).__name__}.")
    check_params(params)
    return params


def catalogue(params: dict[str, Any]) -> dict[str, str]:
    """Every variant `dvc repro` may train, default and transfer, mapped to its params section."""
    train = params["train"]
    return {**(train.get("variants") or {}), **(train.get("transfer_variants") or {})}


def variant_spec(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The params section that defines variant `name` (a key of train.variants or
    train.transfer_variants; the schema has checked that the section exists)."""
    sections = catalogue(params)
    if name not in sections:
        raise ValueError(
            f"Unknown variant {name!r}: not in params.yaml's train.variants or "
            f"train.transfer_variants; valid options: {sorted(sections)}."
        )
    section: Any = params
    for key in sections[name].split("."):
        section = section[key]
    return dict(section)


def variant_backend(spec: dict[str, Any]) -> str:
    """The Keras backend a variant's `backend` param asks for (default TensorFlow)."""
    return spec.get("backend", BACKENDS[0])
