"""Inference: shared preprocessing, model metadata, and backends (ONNX Runtime, TensorRT)."""
