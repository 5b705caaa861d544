"""mnist-search's space file (search/*.yaml), read and checked: the params.yaml keys to vary and
their ranges, the variant they train, the objective (a validation figure: the test set never
chooses), an optional profile of params every trial sets, the number of trials and the sampler."""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mnist_zoo.experiments.profiles import apply_profile, load_profile

SAMPLERS = ("tpe", "grid")
# What a trial may be chosen on, <split>.<figure> of the variant's scores, and which way is better.
OBJECTIVES = {"validation.accuracy": "maximize", "validation.loss": "minimize"}
DEFAULT_OBJECTIVE = "validation.accuracy"


@dataclass
class Dimension:
    """One params.yaml key and its range: `choices`, or `low`..`high` (with `step` or `log`)."""

    key: str
    choices: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def is_int(self) -> bool:
        values = (self.low, self.high) + (() if self.step is None else (self.step,))
        return all(isinstance(value, int) and not isinstance(value, bool) for value in values)

    def grid(self) -> list[Any]:
        """Every value the grid sampler tries: the choices, or low..high by step."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None:
            raise ValueError(
                f"space key {self.key!r}: the grid sampler needs `choices` or a `step` for "
                f"{self.low}..{self.high}, e.g. {{low: {self.low}, high: {self.high}, step: ...}}."
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        values = [self.low + index * self.step for index in range(count)]
        return values if self.is_int else [round(value, 12) for value in values]

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.is_int:
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


@dataclass
class Space:
    """A search, as its file declares it (see search/flagship.yaml)."""

    study: str
    variant: str
    dimensions: list[Dimension]
    trials: int
    sampler: str = "tpe"
    seed: int = 0
    profile: dict[str, Any] = field(default_factory=dict)
    objective: str = DEFAULT_OBJECTIVE  # <split>.<figure> of metrics/scores/<variant>.json

    def experiment_name(self, number: int) -> str:
        return f"{self.study}-{number:03d}"

    @property
    def direction(self) -> str:
        """Optuna's: accuracy is maximised, loss minimised."""
        return OBJECTIVES[self.objective]

    @property
    def objective_label(self) -> str:
        """The objective as a person reads it: "validation accuracy"."""
        return self.objective.replace(".", " ")


def load_space(path: Path, params: dict[str, Any], **overrides: Any) -> Space:
    """Read and check a space file against `params` (params.yaml): every key must exist there, the
    variant must be one `dvc repro` trains, and the profile must pass the schema. `overrides` (the
    command line's study, trials, sampler) replace the file's."""
    text = yaml.safe_load(path.read_text())
    if isinstance(text, dict):
        text.update({key: value for key, value in overrides.items() if value is not None})
    if not isinstance(text, dict) or not isinstance(text.get("space"), dict) or not text["space"]:
        raise ValueError(
            f"{path}: expected a mapping with `space:` (params keys and their ranges), e.g. search/flagship.yaml."
        )
    allowed = ("study", "variant", "trials", "sampler", "seed", "objective", "profile", "space")
    unknown = set(text) - set(allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(allowed)}.")
    objective = text.get("objective", DEFAULT_OBJECTIVE)
    if objective not in OBJECTIVES:
        raise ValueError(
            f"{path}: objective {objective!r}; allowed: {list(OBJECTIVES)} (a study chooses on the validation "
            "split, never the test set)."
        )
    dimensions = [dimension(path, key, value) for key, value in text["space"].items()]
    for item in dimensions:
        lookup(params, item.key, path)
    profile = text.get("profile") or {}
    if isinstance(profile, str):  # a profile file, relative to the project root
        profile = load_profile(Path(profile))
    try:
        apply_profile(params, profile)
    except ValueError as error:
        raise ValueError(f"{path}: its profile: {error}") from None
    variants = params["train"]["variants"]
    variant = text.get("variant") or owner(params, [item.key for item in dimensions], path)
    if variant not in variants:
        raise ValueError(f"{path}: variant {variant!r} is not in params.yaml's train.variants {sorted(variants)}.")
    sampler = text.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise ValueError(f"{path}: sampler {sampler!r}; allowed: {list(SAMPLERS)}.")
    if sampler == "grid":
        try:
            text.setdefault("trials", grid_size(dimensions))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    trials = text.get("trials")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ValueError(f"{path}: trials {trials!r}; expected a whole number >= 1, e.g. `trials: 24`.")
    study = str(text.get("study") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", study):
        raise ValueError(f"{path}: study {study!r}: letters, digits, '-' and '_' only (it names DVC experiments).")
    return Space(study, variant, dimensions, trials, sampler, int(text.get("seed", 0)), profile, objective)


def dimension(path: Path, key: str, value: Any) -> Dimension:
    if isinstance(value, list):
        value = {"choices": value}
    if not isinstance(value, dict) or not ({"choices"} <= set(value) or {"low", "high"} <= set(value)):
        raise ValueError(
            f"{path}: space key {key!r}: expected {{choices: [...]}} or {{low: ..., high: ...}} "
            f"(optionally step: or log: true), got {value!r}."
        )
    unknown = set(value) - {"choices", "low", "high", "step", "log"}
    if unknown:
        raise ValueError(f"{path}: space key {key!r}: unknown field(s) {sorted(unknown)}.")
    item = Dimension(key, **value)
    if item.choices is None and not (
        all(isinstance(bound, int | float) and not isinstance(bound, bool) for bound in (item.low, item.high))
        and item.low < item.high
    ):
        raise ValueError(f"{path}: space key {key!r}: low {item.low!r} must be a number below high {item.high!r}.")
    if item.choices is not None and not item.choices:
        raise ValueError(f"{path}: space key {key!r}: `choices` is empty.")
    return item


def grid_size(dimensions: list[Dimension]) -> int:
    return math.prod(len(item.grid()) for item in dimensions)


def lookup(params: dict[str, Any], dotted: str, path: Path) -> Any:
    section: Any = params
    for part in dotted.split("."):
        if not isinstance(section, dict) or part not in section:
            raise ValueError(f"{path}: space key {dotted!r} is not in params.yaml (no {part!r} there).")
        section = section[part]
    return section


def owner(params: dict[str, Any], keys: list[str], path: Path) -> str:
    """The one variant whose params section holds every key (e.g. model.* -> flagship)."""
    owners = set()
    for key in keys:
        found = [name for name, section in params["train"]["variants"].items() if key.startswith(section + ".")]
        if not found:
            raise ValueError(
                f"{path}: space key {key!r} lies in no variant's section: name the variant (`variant: flagship`)."
            )
        owners.update(found)
    if len(owners) > 1:
        raise ValueError(
            f"{path}: the space touches variants {sorted(owners)}; a study trains one: name it (`variant:`)."
        )
    return owners.pop()


def switch(key: str, value: Any) -> str:
    """`key=value` as `dvc exp run -S` takes it: JSON, which YAML reads back as the same value (a
    float always with its point, so PyYAML reads 1.0e-05 as a number, not a string)."""
    text = json.dumps(value)
    if isinstance(value, float) and "e" in text and "." not in text.split("e")[0]:
        text = text.replace("e", ".0e")
    return f"{key}={text}"
