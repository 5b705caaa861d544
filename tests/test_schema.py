"""params.yaml's schema, property-tested: for every key, generated wrong values are refused with
the key and the value named, by the stage that reads it, before anything is written; the
defaults and valid edge values pass. The table of keys and kinds here is the test's own, so
removing any one check from mnist_zoo/schema.py fails it."""

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_zoo.params import load_params
from stages import corrupt, evaluate, export, preprocess, report, train
from tests.conftest import PROJECT_ROOT, write_prepared

DEFAULTS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())

# Values of no type the schema takes for a number, a switch or a name.
NOT_A_NUMBER = st.one_of(
    st.text(max_size=6),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_AN_INT = st.one_of(NOT_A_NUMBER, st.booleans(), st.floats())
NOT_A_REAL = st.one_of(NOT_A_NUMBER, st.booleans(), st.just(math.nan))


def whole(below: int | None = None, above: int | None = None) -> st.SearchStrategy:
    """Wrong for a whole number from `below` to `above`: non-integers, and integers outside."""
    outside = [st.integers(max_value=below - 1)] if below is not None else []
    outside += [st.integers(min_value=above + 1)] if above is not None else []
    return st.one_of(NOT_AN_INT, *outside)


def real(low: float, high: float, include_low: bool, include_high: bool) -> st.SearchStrategy:
    """Wrong for a number in the interval: non-numbers, and numbers outside it."""
    outside = [st.floats(max_value=low, exclude_max=include_low), st.integers(max_value=math.floor(low) - 1)]
    if high != math.inf:
        outside += [st.floats(min_value=high, exclude_min=include_high), st.integers(min_value=math.floor(high) + 1)]
    return st.one_of(NOT_A_REAL, *outside)


def choice(*valid: str) -> st.SearchStrategy:
    return st.one_of(
        st.text(max_size=12).filter(lambda text: text not in valid),
        st.integers(),
        st.booleans(),
        st.lists(st.text(max_size=3), max_size=2),
    )


def not_null(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """For options whose null means Keras' default (off): every wrong value but null."""
    return strategy.filter(lambda value: value is not None)


SWITCH = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats())
UNIT_OPEN_HIGH = real(0, 1, include_low=True, include_high=False)  # a dropout rate, a momentum
LAYERS = st.one_of(
    st.text(max_size=5),
    st.integers(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), min_size=1, max_size=2),
)

# key -> wrong values. Each key's wrong values are what params.yaml's comments and the issue say.
WRONG: dict[str, st.SearchStrategy] = {
    "seed": whole(below=1),
    "data.mirrors": st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.none(),
        st.lists(st.one_of(st.integers(), st.none(), st.just("")), min_size=1, max_size=2),
    ),
    "data.download_timeout_seconds": real(0, 3600, include_low=False, include_high=True),
    "data.validation_size": whole(below=10, above=59_990),
    "data.split_seed": whole(below=0),
    "data.subset": st.one_of(NOT_AN_INT, st.integers(max_value=-1), st.integers(1, 9), st.integers(min_value=55_001)),
    "data.test_subset": st.one_of(
        NOT_AN_INT, st.integers(max_value=-1), st.integers(1, 9), st.integers(min_value=10_001)
    ),
    "train.early_stopping_patience": whole(below=1),
    "train.variants": st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.lists(st.text(max_size=3), min_size=1),
        st.dictionaries(st.just("lenet5"), st.one_of(st.integers(), st.none()), min_size=1),
        # A name that would make an unsafe stage id or file name; a missing section.
        st.dictionaries(
            st.sampled_from(["LeNet", "5net", "le-net", "a b", "../x", ""]), st.just("variants.lenet5"), min_size=1
        ),
        st.just({"lenet5": "variants.lenet6"}),
        st.just({"lenet5": "model.filters.x"}),
    ),
    "evaluate.num_misclassified": whole(below=1, above=100),
    "evaluate.calibration_bins": whole(below=2, above=100),
    "data.fashion_mirrors": st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.none(),
        st.lists(st.one_of(st.integers(), st.none(), st.just("")), min_size=1, max_size=2),
    ),
    # Not a list, empty, a corruption nobody makes, or one named twice.
    "robustness.corruptions": st.one_of(
        st.text(max_size=5), st.integers(), st.just([]), st.just(["rotate", "smudge"]), st.just(["rotate", "rotate"])
    ),
    "robustness.severity": whole(below=1, above=5),
    "robustness.seed": whole(below=0),
    "robustness.true_positive_rate": real(0, 1, include_low=False, include_high=False),
    "robustness.typicality_components": whole(below=1, above=784),
    "robustness.noise_images": whole(below=10, above=100_000),
    "report.significance": real(0, 1, include_low=False, include_high=False),
    "report.band_sds": real(0, math.inf, include_low=False, include_high=False),
    "export.min_agreement": real(0, 1, include_low=False, include_high=True),
    # Not a mapping, a label that is not text, empty, longer than 4 or padded, or one label given twice.
    "report.short_names": st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.lists(st.text(max_size=3), max_size=2),
        st.dictionaries(
            st.just("lenet5"),
            st.one_of(st.integers(), st.none(), st.just(""), st.text(min_size=5), st.just(" ab"), st.just("ab ")),
            min_size=1,
        ),
        st.text(min_size=1, max_size=4).filter(str.strip).map(lambda label: {"lenet5": label, "chollet": label}),
    ),
    "model.family": choice("convnet", "flagship", "vgg16_transfer"),
    "model.filters": whole(below=1),
    "model.dense_units": whole(below=1),
    "model.dropout": UNIT_OPEN_HIGH,
    "model.translation": real(0, 1, include_low=True, include_high=True),
    "model.rotation": real(0, 0.5, include_low=True, include_high=True),
    "model.zoom": real(0, 1, include_low=True, include_high=False),
    "model.batch_norm_momentum": UNIT_OPEN_HIGH,
    "model.batch_size": whole(below=1),
    "model.epochs": whole(below=1),
    "model.early_stopping_patience": whole(below=1),
    "model.precision": choice("float32", "mixed_bfloat16", "auto"),
    "model.optimizer": st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.none(),
        st.dictionaries(st.sampled_from(["learning_rate", "beta_1"]), st.floats(0.1, 0.5), max_size=2),
    ),
    "model.optimizer.name": choice("adadelta", "adam", "rmsprop", "sgd"),
    "model.optimizer.learning_rate": real(0, math.inf, include_low=False, include_high=False),
    "model.optimizer.ema_momentum": UNIT_OPEN_HIGH,
    "model.optimizer.use_ema": SWITCH,
    "model.optimizer.schedule": not_null(choice("cosine")),
    "model.optimizer.amsgrad": SWITCH,
    "model.optimizer.weight_decay": not_null(real(0, math.inf, include_low=True, include_high=False)),
    "model.optimizer.clipnorm": not_null(real(0, math.inf, include_low=False, include_high=False)),
    "model.optimizer.clipvalue": not_null(real(0, math.inf, include_low=False, include_high=False)),
    "model.optimizer.global_clipnorm": not_null(real(0, math.inf, include_low=False, include_high=False)),
    "model.optimizer.ema_overwrite_frequency": not_null(whole(below=1)),
    "model.optimizer.loss_scale_factor": not_null(real(0, math.inf, include_low=False, include_high=False)),
    "model.optimizer.gradient_accumulation_steps": not_null(whole(below=2)),
    "variants.chollet.optimizer.centered": SWITCH,
    "variants.lenet5.backend": choice("tensorflow", "jax", "torch"),
    "variants.lenet5.activation": choice(
        "relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "swish", "softplus", "linear"
    ),
    "variants.lenet5.reported_accuracy": real(0, 1, include_low=False, include_high=True),
    "variants.lenet5.conv_layers": LAYERS,
    "variants.lenet5.conv_layers.0.filters": whole(below=1),
    "variants.lenet5.conv_layers.0.kernel_size": whole(below=1, above=28),
    "variants.lenet5.conv_layers.0.pool": SWITCH,
    "variants.lenet5.dense_layers": LAYERS,
    "variants.lenet5.dense_layers.0.units": whole(below=1),
    "variants.mlp_relu.dense_layers.0.dropout": UNIT_OPEN_HIGH,
    "variants.mlp_tanh.optimizer.momentum": UNIT_OPEN_HIGH,
    "variants.mlp_tanh.optimizer.nesterov": SWITCH,
    "variants.mlp_tanh.optimizer.decay": real(0, math.inf, include_low=True, include_high=False),
    "variants.tanh_adadelta.optimizer.rho": real(0, 1, include_low=False, include_high=False),
    "variants.vgg16_transfer.weights": st.one_of(
        st.integers(), st.booleans(), st.just(""), st.lists(st.text(), max_size=1)
    ),
}

# The stage that reads each section: it must refuse the value before it reads or writes anything.
READER: dict[str, Callable[[], Any]] = {
    "data": preprocess.main,
    "evaluate": lambda: evaluate.main("lenet5"),
    "export": lambda: export.main("lenet5"),
    "report": report.main,
    "robustness": corrupt.main,
}


def set_key(params: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    section: Any = params
    for part in parents:
        section = section[int(part)] if isinstance(section, list) else section[part]
    if isinstance(section, list):
        section[int(last)] = value
    else:
        section[last] = value


def files_under(*directories: str) -> set[Path]:
    return {path for directory in directories for path in Path(directory).rglob("*")}


@pytest.fixture
def project(in_tmp_project: Path) -> Path:
    write_prepared(in_tmp_project / "data" / "prepared", num_train=20, num_validation=10, num_test=10)
    return in_tmp_project


@pytest.mark.parametrize("key", sorted(WRONG))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_wrong_value_is_refused_naming_the_key_before_anything_is_written(project: Path, key: str, data):
    value = data.draw(WRONG[key], label=key)
    params = copy.deepcopy(DEFAULTS)
    set_key(params, key, value)
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = files_under("data", "metrics")

    with pytest.raises(ValueError) as refused:
        load_params()
    message = str(refused.value)
    assert message.startswith(f"params.yaml: {key}"), message  # the key itself, or a key inside it
    if message.startswith(f"params.yaml: {key} is "):
        assert (
            f"{key} is {yaml.safe_load(yaml.safe_dump(value, sort_keys=False))!r}; allowed: " in message
        )  # the value given
    with pytest.raises(ValueError, match=f"^params.yaml: {key}"):
        READER.get(key.split(".")[0], lambda: train.main("lenet5"))()
    assert files_under("data", "metrics") == before


@pytest.mark.parametrize(
    "key, value",
    [
        ("model.dropout", 0),
        ("model.dropout", 0.999),
        ("model.translation", 1),
        ("model.translation", 0.0),
        ("model.optimizer.learning_rate", 1e-9),
        ("data.subset", 0),
        ("data.subset", 10),
        ("data.test_subset", 10_000),
        ("variants.lenet5.conv_layers", []),
        ("variants.lenet5.conv_layers.0.kernel_size", 28),
        ("export.min_agreement", 1),
        ("report.band_sds", 0.5),
        ("robustness.corruptions", ["identity"]),
        ("robustness.severity", 5),
        ("report.short_names", {"lenet5": "L"}),
        ("seed", 1),
        ("variants.vgg16_transfer.weights", None),
        ("model.optimizer", {"name": "sgd"}),
        ("train.transfer_variants", None),
        ("model.optimizer.weight_decay", 0),
        ("model.optimizer.clipnorm", None),
        ("model.optimizer.clipvalue", 1e-3),
        ("model.optimizer.gradient_accumulation_steps", 2),
        ("variants.chollet.optimizer.centered", True),
    ],
)
def test_valid_edge_values_pass(tmp_path: Path, key: str, value: Any):
    params = copy.deepcopy(DEFAULTS)
    set_key(params, key, value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert load_params(tmp_path / "params.yaml") == params


def test_the_committed_params_pass_and_the_errors_read_well(tmp_path: Path):
    assert load_params(PROJECT_ROOT / "params.yaml") == DEFAULTS
    params = copy.deepcopy(DEFAULTS)
    set_key(params, "model.dropout", 1.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ValueError) as refused:
        load_params(tmp_path / "params.yaml")
    assert str(refused.value) == (
        "params.yaml: model.dropout is 1.5; allowed: a number in [0, 1), e.g. 0.5. "
        "Fix it in params.yaml (or the -S of your `dvc exp run`)."
    )


def test_one_kind_of_gradient_clipping_at_most(tmp_path: Path):
    """Keras takes one of clipnorm, clipvalue and global_clipnorm; the second set one is named."""
    params = copy.deepcopy(DEFAULTS)
    params["model"]["optimizer"] |= {"clipnorm": 1.0, "clipvalue": None, "global_clipnorm": 2.0}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(
        ValueError,
        match=r"^params.yaml: model.optimizer.global_clipnorm is 2.0; allowed: null when "
        r"model.optimizer.clipnorm is set",
    ):
        load_params(tmp_path / "params.yaml")
