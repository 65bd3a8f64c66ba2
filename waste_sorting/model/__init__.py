"""Attention-ResNet classifier: architecture, training, distillation, ONNX export.

PyTorch is needed only in this sub-package; the running cell uses the exported ONNX file. The names
below are imported when first used, so importing one light module does not import PyTorch."""

from waste_sorting.lazy import lazy_names

_NAMES = {
    "ArchConfig": "resnet",
    "BACKGROUND_SETS": "backgrounds",
    "OPSET": "registry",
    "TrainConfig": "train",
    "average_run": "averaging",
    "background_table": "background_check",
    "build_network": "registry",
    "export_checkpoint": "export",
    "export_network": "export",
    "load_checkpoint": "checkpoint",
    "network_from_checkpoint": "checkpoint",
    "network_from_onnx": "from_onnx",
    "network_from_torchvision": "from_torchvision",
    "split_folder": "train",
    "train": "train",
    "train_ab": "precision_ab",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_names(__name__, _NAMES)
