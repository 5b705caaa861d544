"""How a run executes: the plan chosen for what is visible, mixed precision, more steps per
execution, and data parallelism proved on a CPU split into two virtual devices."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo import config
from mnist_zoo.data.dataset import load_split
from mnist_zoo.models.families import build_model
from mnist_zoo.models.kernels import training_clone
from mnist_zoo.params import load_params, variant_spec
from mnist_zoo.training import trainer
from mnist_zoo.training.devices import (
    Devices,
    Plan,
    accelerator_required,
    check_accelerator,
    choose_plan,
    cpu_facts,
    describe_machine,
    plan_for,
    split_evenly,
)
from stages import train
from tests.conftest import PROJECT_ROOT, has_accelerator, spy_on_fit, update_params


@pytest.mark.parametrize(
    "backend, platform, num_devices, bfloat16, precision, expected",
    [
        # A CPU: float32 whatever 'auto' says, one step per call, XLA's CPU kernels on JAX only.
        ("jax", "cpu", 1, False, "auto", ("float32", True, 1)),
        ("tensorflow", "cpu", 1, False, "auto", ("float32", False, 1)),
        # Forcing bfloat16 is honoured even where it is emulated.
        ("tensorflow", "cpu", 1, False, "mixed_bfloat16", ("mixed_bfloat16", False, 1)),
        # An H100 (bfloat16 native) and a pre-Ampere GPU (not).
        ("jax", "gpu", 1, True, "auto", ("mixed_bfloat16", False, 32)),
        ("tensorflow", "gpu", 1, False, "auto", ("float32", False, 32)),
        ("jax", "gpu", 1, True, "float32", ("float32", False, 32)),
        ("jax", "gpu", 4, True, "auto", ("mixed_bfloat16", False, 32)),
    ],
)
def test_plan_follows_the_hardware(backend, platform, num_devices, bfloat16, precision, expected):
    plan = choose_plan(backend, platform, num_devices, bfloat16, precision, batch_size=128)
    assert (plan.precision, plan.cpu_xla_kernels, plan.steps_per_execution) == expected
    assert plan.num_devices == num_devices
    # Only the one-device float32 plan on Keras' own kernels may train the model as built.
    assert plan.trains_as_built == (num_devices == 1 and expected[:2] == ("float32", False))


def test_plan_says_how_the_batch_splits_and_refuses_an_uneven_split():
    plan = choose_plan("jax", "gpu", 4, True, "auto", batch_size=128)
    assert plan.describe() == (
        "backend jax on 4 x gpu, data-parallel, global batch 128 = 4 x 32, "
        "learning rate as the recipe's, mixed_bfloat16, 32 step(s) per execution"
    )
    with pytest.raises(
        ValueError, match="batch_size 100 does not split evenly over the 8 visible devices; use a multiple of 8"
    ):
        choose_plan("jax", "gpu", 8, True, "auto", batch_size=100)


def test_split_evenly_drops_only_the_remainder_the_devices_cannot_share():
    images, labels = np.arange(10 * 4).reshape(10, 2, 2), np.arange(10)
    plan = choose_plan("jax", "gpu", 4, True, "auto", batch_size=128)
    kept_images, kept_labels = split_evenly((images, labels), plan)
    np.testing.assert_array_equal(kept_images, images[:8])
    np.testing.assert_array_equal(kept_labels, labels[:8])
    one_device = choose_plan("jax", "gpu", 1, True, "auto", batch_size=128)
    assert len(split_evenly((images, labels), one_device)[0]) == 10


def test_mixed_precision_copy_computes_in_bfloat16_but_keeps_float32_weights_and_output():
    keras.utils.set_random_seed(0)
    model = build_model(variant_spec(load_params(PROJECT_ROOT / "params.yaml"), "flagship") | {"filters": 4})
    mixed = training_clone(model, precision="mixed_bfloat16")
    assert {layer.compute_dtype for layer in mixed.layers[:-1]} == {"bfloat16"}
    assert mixed.layers[-1].compute_dtype == "float32"  # the softmax
    assert {weight.dtype for weight in mixed.weights} == {"float32"}
    images = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1)).astype(np.uint8)
    # bfloat16 keeps ~3 significant digits: the same model, only rounded.
    np.testing.assert_allclose(mixed.predict(images, verbose=0), model.predict(images, verbose=0), atol=0.05)


@pytest.mark.slow
def test_stage_trains_in_mixed_precision_and_saves_a_float32_model(tiny_project: Path, monkeypatch):
    update_params(tiny_project / "params.yaml", {"model.precision": "mixed_bfloat16", "model.epochs": 5})
    calls = spy_on_fit(monkeypatch, trainer)
    summary = train.main("flagship")
    # The model fitted computes in bfloat16 (layer 2: the first conv, after rescale and shift).
    assert [call["model"].layers[2].dtype_policy.name for call in calls] == ["mixed_bfloat16"]
    saved = keras.saving.load_model("data/models/flagship.keras")
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    images, labels = load_split(Path("data/prepared/validation.npz"))
    accuracy = np.mean(saved.predict(images, verbose=0).argmax(axis=1) == labels)
    # The weights came back from the bfloat16 copy: in float32 the saved model scores what the copy
    # scored at its best epoch, give or take an image that rounding tips over.
    curve = Path("metrics/training/flagship/plots/metrics/eval/accuracy.tsv").read_text().splitlines()[1:]
    best = float(curve[summary["best_epoch"] - 1].split("\t")[-1])
    assert accuracy == pytest.approx(best, abs=1.5 / len(labels))


@pytest.mark.slow
def test_more_steps_per_execution_trains_the_same_model(tiny_project: Path):
    """Accelerators run 32 steps per call; on the same hardware that must not change the maths."""
    spec = variant_spec(load_params(), "chollet")
    data = [load_split(Path(f"data/prepared/{split}.npz")) for split in ("train", "validation")]
    weights = []
    for steps in (1, 4):
        plan = Plan(
            "tensorflow",
            "cpu",
            1,
            "float32",
            cpu_xla_kernels=False,
            steps_per_execution=steps,
            batch_size=spec["batch_size"],
        )
        trainer.seed_everything(42)
        model, summary = trainer.train(spec, *data, 3, [], plan)
        assert model.steps_per_execution == steps  # this plan trains the built model itself
        weights.append(model.get_weights())
    for one, four in zip(*weights, strict=True):
        np.testing.assert_allclose(four, one, atol=1e-6)


# Trains a variant through the train stage's main in a process whose CPU is split into `devices`
# devices, recording how many devices the variables of the model being fitted live on.
ON_SPLIT_CPU = """
import json, logging, os, sys
logging.basicConfig(level=logging.INFO)
variant, devices = sys.argv[1], int(sys.argv[2])
if os.environ["KERAS_BACKEND"] == "tensorflow" and devices > 1:
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
import keras
from mnist_zoo import config
from mnist_zoo.training import trainer
from stages import train
replicas = []
original_fit = trainer.fit
def recording_fit(model, *args, **kwargs):
    if keras.backend.backend() == "jax":
        replicas.append(len(model.trainable_variables[0].value.sharding.device_set))
    else:
        replicas.append(model.distribute_strategy.num_replicas_in_sync)
    # A distributed fit runs Keras' own epoch loop (mnist_zoo/training/epochs.py), so one device does too here:
    # the comparison is of the data parallelism alone (tests/test_epochs.py compares the loops).
    return original_fit(model, *args, **{**kwargs, "loop": "keras"})
trainer.fit = recording_fit
train.main(variant, models_dir=config.MODELS_DIR / str(devices), metrics_dir=config.TRAINING_METRICS_DIR / str(devices))
print(json.dumps(replicas))
"""


def train_on_split_cpu(project: Path, backend: str, variant: str, devices: int) -> tuple[list[int], str]:
    environment = dict(
        os.environ,
        KERAS_BACKEND=backend,
        PYTHONPATH=str(PROJECT_ROOT),
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        # The CPU split in two, on any machine: a GPU machine's GPU is hidden from this run.
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
    )
    result = subprocess.run(
        [sys.executable, "-c", ON_SPLIT_CPU, variant, str(devices)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backend, variant", [("jax", "flagship"), ("tensorflow", "chollet")])
def test_data_parallel_on_two_virtual_devices_matches_one_device(tiny_project: Path, backend, variant):
    """Keras' DataParallel (JAX) and MirroredStrategy (TensorFlow) split each batch over the two
    devices; the global batch and learning rate are the recipe's, so training matches one device."""
    update_params(tiny_project / "params.yaml", {"model.translation": 0.0})  # fast compile on JAX
    one, log_one = train_on_split_cpu(tiny_project, backend, variant, 1)
    two, log_two = train_on_split_cpu(tiny_project, backend, variant, 2)
    assert (one, two) == ([1], [2])
    batch = variant_spec(load_params(), variant)["batch_size"]
    assert f"on 2 x cpu ({cpu_facts()[0]}), data-parallel, global batch {batch} = 2 x {batch // 2}" in log_two
    assert "data-parallel" not in log_one
    metrics = [
        json.loads((config.TRAINING_METRICS_DIR / str(devices) / variant / "metrics.json").read_text())
        for devices in (1, 2)
    ]
    for split in ("train", "eval"):
        for name in ("loss", "accuracy"):
            assert metrics[1][split][name] == pytest.approx(metrics[0][split][name], abs=1e-4)
    weights = [
        keras.saving.load_model(config.MODELS_DIR / str(devices) / f"{variant}.keras").get_weights()
        for devices in (1, 2)
    ]
    for one_device, two_devices in zip(*weights, strict=True):
        np.testing.assert_allclose(two_devices, one_device, atol=1e-4)


def test_describe_machine_names_the_cpu_its_vector_width_and_the_backend(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512bw\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 9R14\n"
    )
    described = describe_machine(cpuinfo)
    assert described.startswith("AMD EPYC 9R14 (") and "AVX-512" in described
    assert f"Keras {keras.__version__} on {keras.backend.backend()}" in described
    cpuinfo.write_text("model name\t: Some CPU\nflags\t: fpu sse avx2\n")
    assert "AVX2)" in describe_machine(cpuinfo)


def test_plan_line_names_the_device_and_the_processes():
    plan = choose_plan(
        "jax",
        "gpu",
        4,
        True,
        "auto",
        batch_size=128,
        device_name="NVIDIA H100 80GB HBM3",
        num_processes=2,
        process_id=1,
    )
    assert plan.describe().startswith(
        "backend jax on 4 x gpu (NVIDIA H100 80GB HBM3), process 1 of 2 "
        "(writes nothing), data-parallel, global batch 128 = 4 x 32"
    )
    here = plan_for({"batch_size": 32})  # this machine: its CPU named by its model, or its GPU
    if has_accelerator():
        assert here.platform == "gpu" and here.device_name.startswith("NVIDIA") and here.num_processes == 1
    else:
        assert (here.platform, here.device_name, here.num_processes) == ("cpu", cpu_facts()[0], 1)
    assert f"on {here.num_devices} x {here.platform} ({here.device_name})" in here.describe()


@pytest.mark.parametrize(
    "value, required",
    [(None, False), ("", False), ("0", False), ("1", True), ("true", True), ("Yes", True), ("no", False)],
)
def test_require_accelerator_switch(value, required):
    assert accelerator_required({} if value is None else {"MNIST_REQUIRE_ACCELERATOR": value}) is required


def test_require_accelerator_switch_refuses_what_is_not_a_switch():
    with pytest.raises(ValueError, match=r"MNIST_REQUIRE_ACCELERATOR='gpu' is not a switch; set it to 1"):
        accelerator_required({"MNIST_REQUIRE_ACCELERATOR": "gpu"})


def test_no_silent_cpu_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cpu, gpu = Devices("cpu", 1, False, "AMD EPYC"), Devices("gpu", 1, True, "NVIDIA H100 80GB HBM3")
    no_nvidia, nvidia = tmp_path / "absent", tmp_path / "nvidia0"
    nvidia.touch()
    check_accelerator("jax", gpu, required=True, nvidia_device=nvidia)  # a GPU: nothing to say
    check_accelerator("jax", cpu, required=False, nvidia_device=no_nvidia)  # a CPU machine, as today
    assert not caplog.records
    # A GPU in the machine that the backend does not see (the CPU builds installed): warned.
    check_accelerator("tensorflow", cpu, required=False, nvidia_device=nvidia)
    assert f"NVIDIA GPU ({nvidia}) but backend tensorflow sees only the CPU" in caplog.text
    assert "pip install -r requirements-gpu.txt" in caplog.text
    with pytest.raises(
        RuntimeError,
        match=r"MNIST_REQUIRE_ACCELERATOR is set, but backend jax sees no GPU or "
        r"TPU, only the CPU \(AMD EPYC\)\. To train on the GPU, install",
    ):
        check_accelerator("jax", cpu, required=True, nvidia_device=no_nvidia)


@pytest.mark.slow
@pytest.mark.skipif(has_accelerator(), reason="this machine has a GPU: a run that requires one goes ahead")
def test_a_run_that_requires_an_accelerator_stops_on_this_cpu_before_reading_data(tiny_project: Path):
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment.update(PYTHONPATH=str(PROJECT_ROOT), MNIST_REQUIRE_ACCELERATOR="1")
    result = subprocess.run(
        [sys.executable, "-m", "stages.train", "lenet5"],
        cwd=tiny_project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "MNIST_REQUIRE_ACCELERATOR is set, but backend jax sees no GPU or TPU" in result.stderr, result.stderr[
        -3000:
    ]
    assert "images" not in result.stderr  # stopped before loading the data (train logs the counts)
    assert not Path("data/models").exists() and not Path("metrics").exists()


# Runs a stage's `__main__` until the first import of a Keras backend, then prints the environment
# that backend would start with, and stops: what runtime.start set by then is all that counts.
UNTIL_FIRST_BACKEND_IMPORT = """
import json, os, runpy, sys
class Stop(Exception): pass
watched = sys.argv[2:]
def hook(event, arguments):
    if event == "import" and arguments[0] in ("keras", "tensorflow", "jax"):
        print(json.dumps({"module": arguments[0], **{name: os.environ.get(name) for name in watched}}))
        raise Stop
sys.addaudithook(hook)
module, sys.argv = sys.argv[1], [sys.argv[1], *json.loads(os.environ["STAGE_ARGUMENTS"])]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except Stop:
    pass
"""
WATCHED = ("TF_FORCE_GPU_ALLOW_GROWTH", "XLA_PYTHON_CLIENT_PREALLOCATE", "KERAS_BACKEND", "MPLBACKEND")


@pytest.mark.parametrize(
    "stage, arguments, backend",
    [
        ("stages.train", ["lenet5"], "jax"),
        ("stages.train", ["chollet"], "tensorflow"),
        ("stages.evaluate", ["lenet5", "--model", "keras"], "jax"),  # the default judges the export: no Keras
        ("stages.export", ["mlp_relu"], "tensorflow"),
        ("mnist_zoo.tools.predict", ["digit.png"], None),
    ],
)
def test_each_entry_point_starts_the_runtime_before_any_backend_is_imported(
    in_tmp_project: Path, stage, arguments, backend
):
    """The accelerator's memory made shareable (several stage processes may train on one GPU at once)
    and the variant's Keras backend chosen, by one call at start-up, before Keras is imported."""
    environment = {key: value for key, value in os.environ.items() if key not in WATCHED}
    environment.update(PYTHONPATH=str(PROJECT_ROOT), STAGE_ARGUMENTS=json.dumps(arguments))
    (in_tmp_project / "data/models").mkdir(parents=True)
    (in_tmp_project / "data/models/flagship.keras").touch()  # predict checks that the model is there
    result = subprocess.run(
        [sys.executable, "-c", UNTIL_FIRST_BACKEND_IMPORT, stage, *WATCHED],
        env=environment,
        cwd=in_tmp_project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "module": seen["module"],
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "KERAS_BACKEND": backend,
        "MPLBACKEND": "Agg",
    }
    # A value the user set is kept.
    environment.update(XLA_PYTHON_CLIENT_PREALLOCATE="true", KERAS_BACKEND="torch")
    result = subprocess.run(
        [sys.executable, "-c", UNTIL_FIRST_BACKEND_IMPORT, stage, *WATCHED],
        env=environment,
        cwd=in_tmp_project,
        capture_output=True,
        text=True,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert (seen["XLA_PYTHON_CLIENT_PREALLOCATE"], seen["KERAS_BACKEND"]) == ("true", "torch")


@pytest.mark.slow
def test_importing_the_code_changes_nothing():
    """No environment change and no backend as a side effect of `import`: only runtime.start acts."""
    modules = sorted(
        {
            ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            for path in (PROJECT_ROOT / "mnist_zoo").rglob("*.py")
            if path.stem != "__init__"
        }
        | {f"stages.{path.stem}" for path in (PROJECT_ROOT / "stages").glob("*.py")}
    )
    code = (
        "import importlib, json, os, sys; before = dict(os.environ)\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps({key: value for key, value in os.environ.items() if before.get(key) != value}))"
    )
    environment = {key: value for key, value in os.environ.items() if key not in WATCHED}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environment, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}


def test_share_accelerator_memory_keeps_what_the_user_set():
    from mnist_zoo.runtime import share_accelerator_memory

    environ = {"XLA_PYTHON_CLIENT_PREALLOCATE": "true"}
    assert share_accelerator_memory(environ) == {
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "true",
    }
