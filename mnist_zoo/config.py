"""Every path and constant the project shares, written once. Paths are relative to the project
root, where DVC runs each stage."""

from pathlib import Path

PARAMS_PATH = Path("params.yaml")
DVC_LOCK_PATH = Path("dvc.lock")

# Data and models: DVC outputs, never git files.
RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
FEATURES_DIR = Path("data/features")
MODELS_DIR = Path("data/models")
EXPORT_DIR = Path("data/export")

# What the evaluation writes per variant, and the cross-model results.
TRAINING_METRICS_DIR = Path("metrics/training")
EVALUATION_DIR = Path("metrics/evaluation")
EXPORT_METRICS_DIR = Path("metrics/export")
CARDS_DIR = Path("metrics/cards")
LEADERBOARD_PATH = Path("metrics/leaderboard.md")
TEST_ACCURACY_PATH = Path("metrics/test_accuracy.json")
TEST_ERROR_PATH = Path("metrics/test_error.json")
CONFUSION_DIR = Path("plots/confusion")
MISCLASSIFIED_DIR = Path("plots/misclassified")
PLOTS_DIR = Path("plots")

# MNIST: 28x28 grey images of ten digits.
IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = 10
MNIST_TRAIN_IMAGES, MNIST_TEST_IMAGES = 60_000, 10_000

# Images per predict call when scoring a whole split: large enough to keep the cores busy.
PREDICT_BATCH_SIZE = 1000
