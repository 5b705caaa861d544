"""Model and training code are backend-agnostic: a tiny variant trains on every installed Keras
backend, and its saved model predicts the same when loaded under TensorFlow (the default)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_zoo.data.dataset import load_split
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow  # trains the flagship on every backend

TRAIN_AND_PREDICT = """
import keras, numpy as np
from mnist_zoo.data.dataset import load_split
from stages import train

summary = train.main("flagship")
model = keras.saving.load_model("data/models/flagship.keras")
images, _ = load_split(train.config.PREPARED_DIR / "validation.npz")
np.save("predictions.npy", model.predict(images, verbose=0))
print("backend", keras.backend.backend(), summary["epochs_run"])
"""


@pytest.mark.parametrize("backend, module", [("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch")])
def test_flagship_trains_on_every_installed_backend(backend: str, module: str, tiny_project: Path):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {backend} backend is not installed (pip install {module})")
    environment = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_PREDICT], cwd=tiny_project, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"backend {backend} 2" in result.stdout
    trained_there = np.load(tiny_project / "predictions.npy")
    assert trained_there.shape == (60, 10)
    # The .keras file is backend-neutral: this process (TensorFlow) reproduces its predictions.
    images, _ = load_split(Path("data/prepared/validation.npz"))
    here = keras.saving.load_model("data/models/flagship.keras").predict(images, verbose=0)
    np.testing.assert_allclose(here, trained_there, atol=1e-4)
