"""Attention-ResNet classifier: architecture, training, distillation, ONNX export.

PyTorch is needed only in this sub-package (``pip install .[train]``); the
running cell uses the exported ONNX file.
"""
