"""The classifier at run time: ONNX Runtime or TensorRT behind one interface, the model's sidecar, the
preprocessing training used."""

from waste_sorting.inference.backend import BACKENDS, BackendChoice, choose_backend, open_backend, tensorrt_status
from waste_sorting.inference.classifier import ImageClassifier, softmax
from waste_sorting.inference.metadata import ModelMetadata, sidecar_path

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "ImageClassifier",
    "ModelMetadata",
    "choose_backend",
    "open_backend",
    "sidecar_path",
    "softmax",
    "tensorrt_status",
]
