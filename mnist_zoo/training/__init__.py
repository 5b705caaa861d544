"""Training: the one training path, its epochs and devices, several GPUs, live curves."""
