"""Evaluation: scores on the test set, its slices by writer and label, calibration, robustness."""
