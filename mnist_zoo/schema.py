"""params.yaml's schema: every key the pipeline reads, its type and its range, checked as a whole
by mnist_zoo.params.load_params, so every stage refuses a bad value before it reads any data. Each
error names the key, the value given and what is allowed. It is the only validator of params.yaml.

What needs Keras stays in mnist_zoo.models.families.validate_spec: which options an optimizer's constructor takes.
"""

import re
from collections.abc import Callable
from typing import Any, NamedTuple

# The subsets below must leave every class in every split.
from mnist_zoo.config import MNIST_TEST_IMAGES, MNIST_TRAIN_IMAGES, NUM_CLASSES

# Keras' names for its optimizers (keras.optimizers.get(name) makes one): the ones a variant may use.
OPTIMIZERS = ("adadelta", "adam", "rmsprop", "sgd")
BACKENDS = ("tensorflow", "jax", "torch")  # the default first
PRECISIONS = ("float32", "mixed_bfloat16", "auto")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "swish", "softplus", "linear")


class Rule(NamedTuple):
    accepts: Callable[[Any], bool]
    allowed: str  # what a person should write instead, e.g. 'a whole number >= 1'


class Family(NamedTuple):
    """A model family: the arguments of its builder, mnist_zoo.models.families.build_<family>, each with the
    rule its params value obeys (None: a list of layers, checked by check_variant), and those the
    builder has a default for, which a variant may leave out."""

    arguments: dict[str, Rule | None]
    optional: frozenset[str] = frozenset()


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and value == value  # not NaN


def integer(low: int, high: int | None = None, example: int | None = None) -> Rule:
    bounds = f">= {low}" if high is None else f"from {low} to {high}"
    hint = f", e.g. {example}" if example is not None else ""
    return Rule(lambda v: is_int(v) and v >= low and (high is None or v <= high), f"a whole number {bounds}{hint}")


def number(low: float, high: float, include_low: bool, include_high: bool, example: float) -> Rule:
    def accepts(value: Any) -> bool:
        return (
            is_number(value)
            and (value >= low if include_low else value > low)
            and (value <= high if include_high else value < high)
        )

    interval = (
        f"{'>=' if include_low else '>'} {low}"
        if high == float("inf")
        else f"in {'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
    )
    return Rule(accepts, f"a number {interval}, e.g. {example}")


def one_of(*options: Any) -> Rule:
    return Rule(lambda v: any(v == option and type(v) is type(option) for option in options), f"one of {list(options)}")


POSITIVE = integer(1)
BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false")
UNIT = number(0, 1, True, False, 0.5)  # a dropout rate, a momentum: 1 would never learn
# report.short_names: a column label per variant for the README's `dvc exp show` in 120 columns.
SHORT_NAME_LENGTH = 4
SHORT_NAMES = Rule(
    lambda v: (
        isinstance(v, dict)
        and all(
            isinstance(name, str)
            and isinstance(label, str)
            and 0 < len(label) <= SHORT_NAME_LENGTH
            and label.strip() == label
            for name, label in v.items()
        )
        and len(set(v.values())) == len(v)
    ),
    f"a mapping of variant name to a label of 1 to {SHORT_NAME_LENGTH} characters (no spaces at the ends), "
    "each label used once, e.g. {lenet5: lnt5}",
)
ALL_OR_SOME = Rule(
    lambda v: v == 0 and is_int(v) or is_int(v) and v >= NUM_CLASSES,
    f"0 (all) or a whole number >= {NUM_CLASSES} (one image of each digit)",
)


# The corruptions mnist_zoo/data/corruptions.py makes (a test keeps the two lists equal; the schema does
# not import that module, which every stage would then depend on).
CORRUPTION_KINDS = (
    "identity",
    "shot_noise",
    "impulse_noise",
    "glass_blur",
    "motion_blur",
    "shear",
    "scale",
    "rotate",
    "brightness",
    "translate",
    "stripe",
    "fog",
    "spatter",
    "dotted_line",
    "zigzag",
    "canny_edges",
)
CORRUPTION_LIST = Rule(
    lambda v: (
        isinstance(v, list) and len(v) > 0 and all(kind in CORRUPTION_KINDS for kind in v) and len(set(v)) == len(v)
    ),
    f"a list of distinct corruptions from {list(CORRUPTION_KINDS)}, e.g. [shot_noise, rotate]",
)


def or_null(rule: Rule) -> Rule:
    """The rule, or null: Keras' default for the option (off)."""
    return Rule(lambda v: v is None or rule.accepts(v), f"{rule.allowed}, or null (off)")


# Every option of Keras' four optimizers' constructors (Keras leaves most unchecked: a negative
# weight_decay or clipnorm, or amsgrad: "yes", would train without a word). Which optimizer takes
# which option is mnist_zoo.models.families.validate_spec's check, against the constructor itself.
OPTIMIZER_RULES = {
    "name": one_of(*OPTIMIZERS),
    "learning_rate": number(0, float("inf"), False, False, 0.001),
    "momentum": UNIT,
    "rho": number(0, 1, False, False, 0.95),
    "ema_momentum": UNIT,
    "beta_1": UNIT,
    "beta_2": UNIT,
    "epsilon": number(0, 1, False, False, 1e-7),
    "use_ema": BOOLEAN,
    "nesterov": BOOLEAN,
    "amsgrad": BOOLEAN,
    "centered": BOOLEAN,
    "weight_decay": or_null(number(0, float("inf"), True, False, 0.004)),
    "clipnorm": or_null(number(0, float("inf"), False, False, 1.0)),
    "clipvalue": or_null(number(0, float("inf"), False, False, 0.5)),
    "global_clipnorm": or_null(number(0, float("inf"), False, False, 1.0)),
    "ema_overwrite_frequency": or_null(integer(1, example=100)),
    "loss_scale_factor": or_null(number(0, float("inf"), False, False, 128.0)),
    "gradient_accumulation_steps": or_null(integer(2, example=4)),
    "schedule": Rule(lambda v: v is None or v == "cosine", "cosine, or none (leave it out)"),
    "decay": number(0, float("inf"), True, False, 1e-6),
}
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")  # Keras takes one at most
DENSE_LAYER_RULES = {"units": POSITIVE, "dropout": UNIT}
CONV_LAYER_RULES = {"filters": POSITIVE, "kernel_size": integer(1, 28, 3), "pool": BOOLEAN}
# Every model family, the one list: a new family is its builder in mnist_zoo/models/families.py and its entry
# here (docs/extending.md); tests/test_models.py holds each entry to its builder's signature.
FAMILIES: dict[str, Family] = {
    "convnet": Family({"conv_layers": None, "dense_layers": None, "activation": one_of(*ACTIVATIONS)}),
    "flagship": Family(
        {
            "filters": POSITIVE,
            "dense_units": POSITIVE,
            "dropout": UNIT,
            "translation": number(0, 1, True, True, 0.1),
            "rotation": number(0, 0.5, True, True, 0.03),
            "zoom": number(0, 1, True, False, 0.1),
            "batch_norm_momentum": UNIT,
        },
        frozenset({"rotation", "zoom", "batch_norm_momentum"}),
    ),
    "vgg16_transfer": Family(
        {
            "dense_layers": None,
            "weights": Rule(
                lambda v: v is None or isinstance(v, str) and v != "", "imagenet, a path to a weights file, or null"
            ),
        },
        frozenset({"weights"}),
    ),
}
# Every variant's recipe beside its `family` (one of FAMILIES, checked first: it says which arguments
# follow), then each family's architecture (required unless it has a default).
RECIPE_RULES = {
    "optimizer": None,
    "batch_size": integer(1, example=128),
    "epochs": integer(1, example=10),
    "early_stopping_patience": POSITIVE,
    "reported_accuracy": number(0, 1, False, True, 0.99),
    "backend": one_of(*BACKENDS),
    "precision": one_of(*PRECISIONS),
}
OPTIONAL_RECIPE_KEYS = {"early_stopping_patience", "reported_accuracy", "backend", "precision"}
SECTION_RULES = {
    "data": {
        "mirrors": Rule(
            lambda v: isinstance(v, list) and all(isinstance(u, str) and u for u in v),
            "a list of URLs (it may be empty when MNIST_MIRROR is set)",
        ),
        "fashion_mirrors": Rule(
            lambda v: isinstance(v, list) and all(isinstance(u, str) and u for u in v),
            "a list of URLs (it may be empty when FASHION_MNIST_MIRROR is set)",
        ),
        "qmnist_mirrors": Rule(
            lambda v: isinstance(v, list) and all(isinstance(u, str) and u for u in v),
            "a list of URLs (it may be empty when QMNIST_MIRROR is set)",
        ),
        "download_timeout_seconds": number(0, 3600, False, True, 60),
        "validation_size": integer(NUM_CLASSES, MNIST_TRAIN_IMAGES - NUM_CLASSES, 5000),
        "split_seed": integer(0, example=1234),
        # writer: validation is whole writers (no training digit of theirs); random: images at random.
        "validation_split": one_of("writer", "random"),
        # Your own digits (digits/<writer>/<digit>/*): evaluate: a slice of every evaluation only;
        # train: training digits too (each writer whole in train or validation, as MNIST's are).
        "own_digits": one_of("evaluate", "train"),
        "subset": ALL_OR_SOME,
        "test_subset": ALL_OR_SOME,
    },
    "train": {"early_stopping_patience": POSITIVE, "variants": None, "transfer_variants": None},
    "evaluate": {
        "num_misclassified": integer(1, 100, 25),
        "calibration_bins": integer(2, 100, 15),
        "num_worst_writers": integer(1, 20, 5),
    },
    "labels": {
        "num_candidates": integer(1, MNIST_TRAIN_IMAGES, 100),
        "sheet_candidates": integer(1, 200, 50),
        # Training-split candidates, opt-in: variant name -> its params section, cross-fitted.
        "cross_fit": None,
        "cross_fit_folds": integer(2, 20, 5),
    },
    "robustness": {
        "corruptions": CORRUPTION_LIST,
        "severity": integer(1, 5, 3),
        "seed": integer(0, example=0),
        "true_positive_rate": number(0, 1, False, False, 0.95),
        "typicality_components": integer(1, 784, 100),
        "noise_images": integer(10, 100_000, 2000),
    },
    "export": {"min_agreement": number(0, 1, False, True, 0.9999)},
    "report": {
        "significance": number(0, 1, False, False, 0.05),
        "band_sds": number(0, float("inf"), False, False, 2),
        "short_names": SHORT_NAMES,
    },
}
OPTIONAL_SECTION_KEYS = {"short_names"}


MISSING = object()


def refuse(key: str, value: Any, allowed: str) -> ValueError:
    shown = "missing" if value is MISSING else f"{value!r}"
    return ValueError(
        f"params.yaml: {key} is {shown}; allowed: {allowed}. Fix it in params.yaml (or the -S of your `dvc exp run`)."
    )


def check_mapping(
    key: str,
    value: Any,
    rules: dict[str, Rule | None],
    optional: set[str] = frozenset(),
    nested: dict[str, Callable[[str, Any], None]] | None = None,
) -> None:
    """`value` must be a mapping with exactly `rules`' keys (less the optional ones); each value
    obeys its rule, or the function in `nested` for keys whose rule is None."""
    if not isinstance(value, dict):
        raise refuse(key, value, f"a mapping with the keys {sorted(rules)}")
    unknown = sorted(set(value) - set(rules))
    if unknown:
        raise refuse(f"{key}.{unknown[0]}", value[unknown[0]], f"no such key here; valid keys: {sorted(rules)}")
    for name, rule in rules.items():
        if name not in value:
            if name in optional:
                continue
            raise refuse(f"{key}.{name}", MISSING, rule.allowed if rule else "see params.yaml's defaults")
        if rule is None:
            (nested or {})[name](f"{key}.{name}", value[name])
        elif not rule.accepts(value[name]):
            raise refuse(f"{key}.{name}", value[name], rule.allowed)


def check_layers(rules: dict[str, Rule], required: set[str]) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if not isinstance(value, list):
            raise refuse(key, value, f"a list of mappings, each with {sorted(required)} (it may be empty)")
        for index, layer in enumerate(value):
            check_mapping(f"{key}.{index}", layer, rules, optional=set(rules) - required)

    return check


def check_optimizer(key: str, value: Any) -> None:
    """A mapping with a known `name` and every option typed, at most one kind of clipping. Whether
    this optimizer takes the option is checked against its constructor (models.validate_spec)."""
    if not isinstance(value, dict) or "name" not in value:
        raise refuse(key, value, f"a mapping with a name, one of {list(OPTIMIZERS)}, e.g. {{name: adam}}")
    for name, option in value.items():
        rule = OPTIMIZER_RULES.get(name)
        if rule and not rule.accepts(option):
            raise refuse(f"{key}.{name}", option, rule.allowed)
    clipping = [name for name in CLIPPING if value.get(name) is not None]
    if len(clipping) > 1:
        raise refuse(
            f"{key}.{clipping[1]}",
            value[clipping[1]],
            f"null when {key}.{clipping[0]} is set: Keras clips one way at most ({', '.join(CLIPPING)})",
        )


def check_variant(key: str, spec: Any) -> None:
    """One variant's section (e.g. key 'variants.lenet5' or 'model')."""
    if not isinstance(spec, dict) or not isinstance(spec.get("family"), str) or spec["family"] not in FAMILIES:
        family = spec.get("family", MISSING) if isinstance(spec, dict) else spec
        raise refuse(f"{key}.family" if isinstance(spec, dict) else key, family, f"one of {list(FAMILIES)}")
    family = FAMILIES[spec["family"]]
    nested = {
        "optimizer": check_optimizer,
        "dense_layers": check_layers(DENSE_LAYER_RULES, {"units"}),
        "conv_layers": check_layers(CONV_LAYER_RULES, {"filters", "kernel_size"}),
    }
    rules = {"family": one_of(*FAMILIES)} | RECIPE_RULES | family.arguments  # FAMILIES as it is now
    check_mapping(key, spec, rules, OPTIONAL_RECIPE_KEYS | family.optional, nested)


# Variant names become DVC stage ids (train@lenet5) and file names, so keep them boring.
VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_catalogue(key: str, value: Any) -> None:
    """train.variants / train.transfer_variants: variant name -> the dotted params section."""
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise refuse(key, value, "a mapping of variant name to its params section, e.g. {lenet5: variants.lenet5}")
    for name in value:
        if not isinstance(name, str) or not VARIANT_NAME.match(name):
            raise refuse(
                f"{key}.{name}",
                value[name],
                "a variant name that is a safe file name: lower-case "
                "letters, digits and underscores, starting with a letter, e.g. lenet5",
            )


def check_params(params: dict[str, Any]) -> None:
    """Raise ValueError naming the first key whose value params.yaml may not have."""
    if not POSITIVE.accepts(params.get("seed", MISSING)):
        raise refuse("seed", params.get("seed", MISSING), "a whole number >= 1, e.g. 42")
    for section, rules in SECTION_RULES.items():
        check_mapping(
            section,
            params.get(section, MISSING),
            rules,
            OPTIONAL_SECTION_KEYS,
            nested={"variants": check_catalogue, "transfer_variants": check_catalogue, "cross_fit": check_catalogue},
        )
    data = params["data"]
    if data["subset"] and data["subset"] > MNIST_TRAIN_IMAGES - data["validation_size"]:
        raise refuse(
            "data.subset",
            data["subset"],
            f"0 (all) or at most {MNIST_TRAIN_IMAGES} minus "
            f"data.validation_size ({data['validation_size']}), the training images left",
        )
    if data["test_subset"] > MNIST_TEST_IMAGES:
        raise refuse("data.test_subset", data["test_subset"], f"0 (all) or at most {MNIST_TEST_IMAGES}")
    sections = {f"variants.{name}": None for name in params.get("variants") or {}}
    for catalogue in ("variants", "transfer_variants"):
        for name, dotted in (params["train"].get(catalogue) or {}).items():
            sections[dotted] = f"train.{catalogue}.{name}"
    for name, dotted in (params["labels"].get("cross_fit") or {}).items():
        sections.setdefault(dotted, f"labels.cross_fit.{name}")
    for dotted, referrer in sorted(sections.items()):
        spec: Any = params
        for part in dotted.split("."):
            spec = spec.get(part, MISSING) if isinstance(spec, dict) else MISSING
        if spec is MISSING:
            raise refuse(referrer, dotted, "the name of a params section that exists, e.g. variants.lenet5")
        check_variant(dotted, spec)
