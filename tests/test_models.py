"""The model zoo: every variant in params.yaml builds with the posts' parameter count and
survives a save/load round trip; bad specs fail before any data is touched."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo.models.families import build_model, build_optimizer, builder, optimizer_class, validate_spec
from mnist_zoo.models.kernels import PatchConv2D, ReshapeMaxPooling2D, training_clone
from mnist_zoo.params import load_params, variant_backend, variant_spec
from mnist_zoo.schema import FAMILIES, OPTIMIZERS, check_params
from tests.conftest import PROJECT_ROOT

PARAMS = load_params(PROJECT_ROOT / "params.yaml")
# Parameter counts published with (or recomputed from) each reference post.
EXPECTED_PARAMETERS = {
    "tanh_adadelta": 150_742,
    "chollet": 93_322,
    "adam_5x5": 1_087_106,
    "lenet5": 44_426,
    "mlp_tanh": 898_510,
    "mlp_relu": 898_510,
    "conv2_dropout": 2_820_078,
    "vgg16_transfer": 15_226_698,
    "flagship": 81_626,  # ours, at filters: 16 (the README's figure)
}
CATALOGUE = sorted(set(PARAMS["train"]["variants"]) | set(PARAMS["variants"]))


def spec_for(name: str) -> dict:
    if name in PARAMS["train"]["variants"]:
        spec = variant_spec(PARAMS, name)
    else:
        spec = dict(PARAMS["variants"][name])
    if spec["family"] == "vgg16_transfer":
        spec["weights"] = None  # same architecture; no 58 MB download in tests
    return spec


def test_every_reference_variant_is_in_the_catalogue():
    assert set(EXPECTED_PARAMETERS) <= set(CATALOGUE)
    assert {variant_spec(PARAMS, name)["family"] for name in PARAMS["train"]["variants"]} <= set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_in_the_one_list_is_its_builders_arguments(family):
    """schema.FAMILIES is the one list of families: each entry's keys are exactly its builder's
    arguments, and the keys a variant may leave out exactly those the builder has a default for."""
    import inspect

    parameters = inspect.signature(builder(family)).parameters
    assert set(FAMILIES[family].arguments) == set(parameters)
    defaults = {name for name, parameter in parameters.items() if parameter.default is not inspect.Parameter.empty}
    assert FAMILIES[family].optional == defaults


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_the_schema_allows_is_a_keras_optimizer(name):
    assert issubclass(optimizer_class(name), keras.optimizers.Optimizer)
    assert optimizer_class(name).__name__.lower() == name


@pytest.mark.parametrize("name", CATALOGUE)
def test_variant_builds_with_the_published_parameter_count(name):
    spec = spec_for(name)
    validate_spec(name, spec)
    model = build_model(spec)
    assert model.output_shape == (None, 10)
    if name in EXPECTED_PARAMETERS:
        assert model.count_params() == EXPECTED_PARAMETERS[name]


def test_vgg16_base_is_frozen():
    model = build_model(spec_for("vgg16_transfer"))
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    assert trainable == 512_010


@pytest.mark.parametrize("name", [name for name in CATALOGUE if name != "vgg16_transfer"] + ["vgg16_transfer"])
def test_save_load_round_trip_gives_identical_predictions(name, tmp_path: Path):
    model = build_model(spec_for(name))
    images = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1)).astype(np.uint8)
    before = model.predict(images, verbose=0)
    model.save(tmp_path / "model.keras")
    after = keras.saving.load_model(tmp_path / "model.keras").predict(images, verbose=0)
    np.testing.assert_array_equal(before, after)
    assert np.allclose(before.sum(axis=1), 1, atol=1e-5)  # softmax over 10 digits


# Types, ranges and keys are params.yaml's schema's (tests/test_schema.py); validate_spec checks
# only what needs Keras: the options an optimizer's constructor takes.
@pytest.mark.parametrize("optimizer, option", [("sgd", "momentun"), ("adam", "rho"), ("rmsprop", "nesterov")])
def test_an_option_the_optimizer_does_not_take_is_named_with_the_valid_ones(optimizer, option):
    with pytest.raises(
        ValueError,
        match=rf"lenet5.optimizer: {optimizer} takes no option\(s\) \['{option}'\]; "
        r"valid: \[.*'learning_rate'",
    ):
        validate_spec("lenet5", spec_for("lenet5") | {"optimizer": {"name": optimizer, option: 0.9}})


@pytest.mark.parametrize("name", ["../evil", "LeNet", "a b", "", "x" * 41])
def test_unsafe_variant_names_are_refused_by_the_schema(name):
    params = {**PARAMS, "train": {**PARAMS["train"], "variants": {name: "variants.lenet5"}}}
    with pytest.raises(
        ValueError,
        match=f"train.variants.{re.escape(name)} is 'variants.lenet5'; allowed: a variant "
        "name that is a safe file name",
    ):
        check_params(params)


def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown variant 'resnet50'.*'lenet5'"):
        variant_spec(PARAMS, "resnet50")


def test_keras2_style_decay_becomes_inverse_time_decay():
    optimizer = build_optimizer(
        {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True, "decay": 1e-2}, total_steps=100
    )
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    assert float(schedule(100)) == pytest.approx(0.01 / (1 + 1e-2 * 100))
    assert optimizer.nesterov and optimizer.momentum == 0.9


def test_adadelta_keeps_the_keras2_learning_rate():
    optimizer = build_optimizer(PARAMS["variants"]["tanh_adadelta"]["optimizer"], total_steps=10)
    assert float(optimizer.learning_rate) == pytest.approx(1.0)
    assert optimizer.rho == pytest.approx(0.95)


def test_backend_param_defaults_to_tensorflow():
    assert variant_backend({"family": "convnet"}) == "tensorflow"
    assert variant_backend({"family": "convnet", "backend": "jax"}) == "jax"


CONVOLUTIONAL = [
    name
    for name in CATALOGUE
    if spec_for(name)["family"] != "vgg16_transfer"
    and (spec_for(name).get("conv_layers") or spec_for(name)["family"] == "flagship")
]


@pytest.mark.parametrize("name", CONVOLUTIONAL)
def test_cpu_xla_kernels_compute_the_same_model(name):
    """The fast-kernel copy trains in place of the model on XLA CPUs: same outputs, same update."""
    spec = spec_for(name)
    # Without dropout and augmentation, so the two copies' random draws cannot differ.
    if spec["family"] == "flagship":
        spec |= {"dropout": 0.0, "translation": 0.0}
    else:
        spec["dense_layers"] = [{"units": dense["units"]} for dense in spec["dense_layers"]]
    keras.utils.set_random_seed(0)
    model = build_model(spec)
    fast = training_clone(model, cpu_xla_kernels=True)
    kinds = [type(layer) for layer in fast.layers]
    assert PatchConv2D in kinds and ReshapeMaxPooling2D in kinds  # it really swapped something
    assert layers_conv_count(model) == kinds.count(PatchConv2D)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(16, 28, 28, 1)).astype(np.uint8)
    labels = rng.integers(0, 10, size=16)
    np.testing.assert_allclose(fast.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    for copy in (model, fast):  # one plain SGD step on each: equal updates mean equal gradients
        copy.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        copy.train_on_batch(images, labels)
    for original, swapped in zip(model.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(swapped, original, atol=1e-5)


def layers_conv_count(model: keras.Model) -> int:
    return sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


def test_flagship_augmentation_follows_its_params_and_is_off_at_inference():
    spec = spec_for("flagship") | {"rotation": 0.05, "zoom": 0.1}
    model = build_model(spec)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:4] == ["Rescaling", "RandomRotation", "RandomZoom", "RandomTranslation"]
    assert "RandomRotation" not in [type(layer).__name__ for layer in build_model(spec_for("flagship")).layers]
    images = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_array_equal(model.predict(images, verbose=0), model.predict(images, verbose=0))


def test_the_flagships_batch_norm_momentum_is_a_param():
    """Keras' default (0.99) unless the recipe says otherwise: a short run needs faster statistics."""
    spec = spec_for("flagship")
    assert spec["batch_norm_momentum"] == 0.99
    for momentum in (0.99, 0.9):
        model = build_model(spec | {"batch_norm_momentum": momentum})
        norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        assert len(norms) == 4 and {layer.momentum for layer in norms} == {momentum}
