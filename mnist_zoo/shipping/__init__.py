"""Shipping: the ONNX export and serving it."""
