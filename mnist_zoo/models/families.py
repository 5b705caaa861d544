"""The model zoo: one builder per architecture family; variants are params.yaml entries.

Every model takes raw uint8 pixels of shape (28, 28, 1) and scales them itself, so the cached
tensors stay uint8 and a saved model needs no preprocessing code beside it.
Backend-agnostic Keras 3: no TensorFlow-only calls here.
"""

import inspect
from collections.abc import Callable
from typing import Any

import keras
from keras import layers

from mnist_zoo.config import INPUT_SHAPE, NUM_CLASSES


def build_convnet(
    conv_layers: list[dict[str, Any]], dense_layers: list[dict[str, Any]], activation: str
) -> keras.Model:
    """The reference posts' nets: conv (+ optional 2x2 pool) layers, then dense (+ dropout) layers.

    With no conv layers this is the posts' MLP on the flattened image.
    """
    model_layers: list[layers.Layer] = [keras.Input(INPUT_SHAPE), layers.Rescaling(1 / 255)]
    for conv in conv_layers:
        model_layers.append(layers.Conv2D(conv["filters"], conv["kernel_size"], activation=activation))
        if conv.get("pool", False):
            model_layers.append(layers.MaxPooling2D(2))
    model_layers.append(layers.Flatten())
    for dense in dense_layers:
        model_layers.append(layers.Dense(dense["units"], activation=activation))
        if dense.get("dropout", 0):
            model_layers.append(layers.Dropout(dense["dropout"]))
    model_layers.append(layers.Dense(NUM_CLASSES, activation="softmax"))
    return keras.Sequential(model_layers)


def build_flagship(
    filters: int,
    dense_units: int,
    dropout: float,
    translation: float,
    rotation: float = 0.0,
    zoom: float = 0.0,
    batch_norm_momentum: float = 0.99,
) -> keras.Model:
    """Our CNN: a wider Chollet net with batch norm, dropout and augmentation (while training
    only): random rotations of up to `rotation` of a full turn, zooms in or out by up to `zoom`,
    then shifts of up to `translation` of the image, each filling with black.

    `batch_norm_momentum` is how slowly batch norm's moving statistics, which inference uses,
    follow the batches (Keras' default, 0.99, averages over ~100 steps): a run of a few dozen steps
    needs a lower one, or its statistics still hold their initial values.

    Pooling early keeps the expensive 3x3 convs on 13x13 and smaller maps, which is what
    makes it cheap enough to train to 99.4%+ on a 2-core CPU.
    """
    augmentation = []
    if rotation:
        augmentation.append(layers.RandomRotation(rotation, fill_mode="constant"))
    if zoom:
        augmentation.append(layers.RandomZoom(zoom, zoom, fill_mode="constant"))
    if translation:
        augmentation.append(layers.RandomTranslation(translation, translation, fill_mode="constant"))

    def conv_block(width: int) -> list[layers.Layer]:
        # No conv bias: batch norm's offset does that job.
        return [
            layers.Conv2D(width, 3, use_bias=False),
            layers.BatchNormalization(momentum=batch_norm_momentum),
            layers.ReLU(),
        ]

    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Rescaling(1 / 255),
            *augmentation,
            *conv_block(filters),
            layers.MaxPooling2D(2),
            *conv_block(2 * filters),
            *conv_block(2 * filters),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(dense_units, use_bias=False),
            layers.BatchNormalization(momentum=batch_norm_momentum),
            layers.ReLU(),
            layers.Dropout(dropout),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


# VGG16 wants 0-255 BGR with the ImageNet channel means removed (caffe-style preprocessing).
IMAGENET_BGR_MEANS = [103.939, 116.779, 123.68]
VGG16_IMAGE_SIZE = 48  # the smallest input VGG16 accepts is 32; the post used 48


def build_vgg16_transfer(dense_layers: list[dict[str, Any]], weights: str | None = "imagenet") -> keras.Model:
    """Frozen VGG16 base on 48x48 RGB (resized grey inside the model), then a dense head.

    The layer named 'features' is the frozen base's flattened output: training caches it.
    """
    inputs = keras.Input(INPUT_SHAPE)
    grey = layers.Resizing(VGG16_IMAGE_SIZE, VGG16_IMAGE_SIZE)(inputs)
    rgb = layers.Concatenate()([grey, grey, grey])
    centred = layers.Normalization(mean=IMAGENET_BGR_MEANS, variance=[1.0, 1.0, 1.0])(rgb)
    base = keras.applications.VGG16(
        include_top=False, weights=weights, input_shape=(VGG16_IMAGE_SIZE, VGG16_IMAGE_SIZE, 3)
    )
    base.trainable = False
    x = layers.Flatten(name="features")(base(centred, training=False))
    for dense in dense_layers:
        x = layers.Dense(dense["units"], activation="relu")(x)
        if dense.get("dropout", 0):
            x = layers.Dropout(dense["dropout"])(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="vgg16_transfer")


def builder(family: str) -> Callable[..., keras.Model]:
    """The builder of a family in mnist_zoo.schema.FAMILIES (the one list of families): this
    module's `build_<family>`, whose arguments are the family's params keys."""
    return globals()[f"build_{family}"]


def architecture_keys(family: str) -> set[str]:
    return set(inspect.signature(builder(family)).parameters)


def validate_spec(name: str, spec: dict[str, Any]) -> None:
    """What params.yaml's schema (mnist_zoo/schema.py, applied by load_params) leaves to Keras: the
    optimizer's options against its constructor. Errors name the key and the valid options."""
    optimizer_options(name, spec["optimizer"])


def build_model(spec: dict[str, Any]) -> keras.Model:
    """Build the variant's uncompiled model from its params section."""
    keys = architecture_keys(spec["family"])
    return builder(spec["family"])(**{key: value for key, value in spec.items() if key in keys})


def optimizer_class(name: str) -> type[keras.optimizers.Optimizer]:
    """The Keras optimizer class that `name` (one of mnist_zoo.schema.OPTIMIZERS) names in Keras' own
    registry."""
    return type(keras.optimizers.get(name))


# Options we translate ourselves rather than pass to the optimizer's constructor.
SCHEDULE_KEYS = {"name", "decay", "schedule"}


def optimizer_options(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The constructor options of a variant's optimizer spec (name and types checked by the
    schema), refusing an option this optimizer's constructor does not take."""
    valid = set(inspect.signature(optimizer_class(spec["name"])).parameters) | SCHEDULE_KEYS
    unknown = sorted(set(spec) - valid)
    if unknown:
        raise ValueError(
            f"params.yaml: {name}.optimizer: {spec['name']} takes no option(s) {unknown}; valid: {sorted(valid)}."
        )
    return {key: value for key, value in spec.items() if key not in SCHEDULE_KEYS}


def build_optimizer(spec: dict[str, Any], total_steps: int) -> keras.optimizers.Optimizer:
    """An optimizer from its params spec.

    `decay` is Keras 2's per-step inverse-time decay, lr / (1 + decay * step), as the posts used it;
    `schedule: cosine` decays the rate to zero over the whole run (`total_steps`).
    """
    options = optimizer_options("optimizer", spec)
    learning_rate = options.pop("learning_rate", optimizer_class(spec["name"])().learning_rate)
    learning_rate = float(keras.ops.convert_to_numpy(learning_rate))
    if spec.get("decay"):
        learning_rate = keras.optimizers.schedules.InverseTimeDecay(
            learning_rate, decay_steps=1, decay_rate=spec["decay"]
        )
    elif spec.get("schedule") == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    return optimizer_class(spec["name"])(learning_rate=learning_rate, **options)
