"""Image classifier: model metadata + backend + the shared preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from waste_sorting.errors import ModelError
from waste_sorting.inference.backend import Backend, BackendChoice, open_backend
from waste_sorting.inference.metadata import ModelMetadata
from waste_sorting.inference.preprocess import normalize_batch, prepare_images


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ImageClassifier:
    def __init__(self, model_path: Path, backend: str = "auto", threads: int = 0,
                 max_batch: int = 16) -> None:
        self.model_path = Path(model_path)
        self.meta = ModelMetadata.for_model(self.model_path)  # ModelError: missing, not ONNX, no metadata
        self.backend: Backend
        try:
            self.backend, self.choice = open_backend(self.model_path, backend, threads)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's InvalidProtobuf, Fail, ... and TensorRT's
            raise ModelError(f"{self.model_path}: the {backend} backend cannot load it "
                             f"({str(exc).splitlines()[0][:200]})") from None
        self.max_batch = max_batch

    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    @property
    def input_size(self) -> int:
        return self.meta.input_size

    @property
    def backend_choice(self) -> BackendChoice:
        return self.choice

    def classify_crops(self, crops: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """NxSxSx3 uint8 BGR crops (already model-sized) -> NxC probabilities, softmax(logits / temperature)
        (a temperature fitted by `calibrate thresholds` makes the confidences mean what they say)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        out = []
        for i in range(0, len(crops), self.max_batch):
            batch = normalize_batch(crops[i:i + self.max_batch], self.meta.mean, self.meta.std)
            logits = self.backend.infer(batch)
            out.append(softmax(logits if temperature == 1.0 else logits / np.float32(temperature)))
        return np.concatenate(out)

    def classify_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Whole photos (any size, BGR uint8) -> NxC probabilities."""
        out = []
        for i in range(0, len(images), self.max_batch):
            batch = prepare_images(images[i:i + self.max_batch], self.input_size, self.meta.mean, self.meta.std)
            out.append(softmax(self.backend.infer(batch)))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)
