"""The one preprocessing implementation, shared by training, every backend and the CLI.

Crops arrive as uint8 BGR (OpenCV order). They are resized to the model's
square input, converted to RGB, scaled and normalised in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_batch(batch_bgr: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """NxHxWx3 uint8 BGR -> Nx3xHxW float32 RGB, ``(x/255 - mean) / std``."""
    if batch_bgr.ndim != 4 or batch_bgr.shape[3] != 3:
        raise ValueError(f"expected NxHxWx3, got {batch_bgr.shape}")
    scale = (1.0 / (255.0 * np.asarray(std, np.float32)))[::-1]  # in BGR order
    offset = (np.asarray(mean, np.float32) / np.asarray(std, np.float32))[::-1]
    x = batch_bgr.astype(np.float32) * scale - offset
    # BGR -> RGB and NHWC -> NCHW in one contiguous copy.
    return np.ascontiguousarray(x[..., ::-1].transpose(0, 3, 1, 2))


def square_box(x0: float, y0: float, x1: float, y1: float, margin: float = 1.25) -> tuple[int, int, int]:
    """Square crop (left, top, side) centred on a box, ``margin`` x its larger side."""
    side = max(x1 - x0, y1 - y0) * margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return int(round(cx - side / 2)), int(round(cy - side / 2)), max(2, int(round(side)))


def crop_square(frame: np.ndarray, left: int, top: int, side: int, size: int) -> np.ndarray:
    """Crop a square (padding with edge pixels outside the frame) and resize to size x size."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, w), min(top + side, h)
    patch = frame[y0:y1, x0:x1]
    pad = (y0 - top, top + side - y1, x0 - left, left + side - x1)
    if any(p > 0 for p in pad):
        patch = cv2.copyMakeBorder(patch, pad[0], pad[1], pad[2], pad[3], cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def prepare_images(images: Sequence[np.ndarray], size: int, mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """Whole images (any size, BGR uint8) -> normalised batch, as ``classify`` and the node do."""
    batch = np.empty((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        side = min(h, w)  # centre square, as training frames whole photos
        batch[i] = crop_square(img, (w - side) // 2, (h - side) // 2, side, size)
    return normalize_batch(batch, mean, std)
