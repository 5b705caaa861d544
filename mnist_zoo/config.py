"""Every path and constant that more than one module shares, written once. Paths are relative to
the project root, where DVC runs each stage. Every stage imports this module, so editing it
retrains the zoo: a path only one stage writes (a new plot, say) belongs to that stage's module."""

from pathlib import Path

PARAMS_PATH = Path("params.yaml")
DVC_LOCK_PATH = Path("dvc.lock")

# Data and models: DVC outputs, never git files.
RAW_DIR = Path("data/raw")
# A person's own labelled digits, in git or `dvc add`-ed: digits/<writer>/<digit>/<image> (docs/data.md).
OWN_DIGITS_DIR = Path("digits")
QMNIST_DIR = Path("data/qmnist")  # QMNIST's extended labels: each MNIST digit's writer and NIST series
FASHION_DIR = Path("data/fashion")  # Fashion-MNIST's test set: the "not a digit" images
PREPARED_DIR = Path("data/prepared")
# Every example, one row each (its id, pixels' SHA-256, labels, writer, split): preprocess writes it
# beside the splits, with the version of each input it read (the data card's, in results/).
CATALOG_PATH = PREPARED_DIR / "catalog.csv"
DATA_INPUTS_PATH = PREPARED_DIR / "inputs.json"
# Labels a team fixes (git's, human-written): applied when the splits are made.
CORRECTIONS_PATH = Path("labels/corrections.csv")
CORRUPTED_DIR = Path("data/corrupted")  # the test set under each corruption
FEATURES_DIR = Path("data/features")
MODELS_DIR = Path("data/models")
EXPORT_DIR = Path("data/export")
# What MNIST digits look like (the top principal components of the training images): with each
# model's thresholds, what tells `mnist-predict` that an image is not a digit.
TYPICALITY_PATH = EXPORT_DIR / "typicality.npz"

# What training, evaluation and export write per variant: DVC outputs, in the cache and the remote.
TRAINING_METRICS_DIR = Path("metrics/training")
EVALUATION_DIR = Path("metrics/evaluation")
# Each model's validation and test accuracy and loss: DVC metrics in git (the scores stage copies them
# from the evaluation in a second), so every experiment, a search's trials included, shows its own in
# `dvc exp show`, in a fresh clone too. A search chooses on validation only.
SCORES_DIR = Path("metrics/scores")
PREDICTIONS_DIR = Path("metrics/predictions")  # each model's digit per test image, for paired tests
# Each model's probabilities on the validation and test digits: what the label candidates rank on.
PROBABILITIES_DIR = Path("metrics/probabilities")
EXPORT_METRICS_DIR = Path("metrics/export")
ROBUSTNESS_DIR = Path("metrics/robustness")  # corrupted scans, other writers, "not a digit"
CONFUSION_DIR = Path("plots/confusion")
MISCLASSIFIED_DIR = Path("plots/misclassified")
RELIABILITY_DIR = Path("plots/reliability")
WRITERS_DIR = Path("plots/writers")  # each model's worst-read test writers, with their digits

# What a reviewer reads, in git (`cache: false`), so a fresh clone has it with no remote: the
# report's summary of every variant (the project's metrics), the leaderboard, the model cards and
# the cross-model figures. `report` writes it in seconds from the per-variant outputs above.
RESULTS_DIR = Path("results")
RESULTS_METRICS_PATH = RESULTS_DIR / "metrics.json"
LEADERBOARD_PATH = RESULTS_DIR / "leaderboard.md"
# The data card: the counts per class, writer group and split, and the version of every input.
DATA_CARD_PATH = RESULTS_DIR / "data.md"
DATA_COUNTS_PATH = RESULTS_DIR / "data.json"
CARDS_DIR = RESULTS_DIR / "cards"
# The digits whose label the zoo most doubts, per split, and their contact sheets: for a person to review.
LABEL_CANDIDATES_DIR = RESULTS_DIR / "label_candidates"
# Each recipe's seed spread (bench/seed_spread.py), per profile: how far a run moves by chance.
SEED_BANDS_PATH = RESULTS_DIR / "seed_bands.json"

# MNIST: 28x28 grey images of ten digits.
IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = 10
MNIST_TRAIN_IMAGES, MNIST_TEST_IMAGES = 60_000, 10_000

# Images per predict call when scoring a whole split: large enough to keep the cores busy.
PREDICT_BATCH_SIZE = 1000
