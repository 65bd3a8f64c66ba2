"""Frame -> item list: segmentation, belt coordinates, batched classification.

This is the hot path (image in -> items out). Crops are written straight
into one preallocated uint8 batch and normalised in one vectorised pass.
Only items inside the classification band (a stretch of the view where they
are seen whole) are classified, and each at most ``max_classifications`` times
(see classification_budget), not in every frame; the tracker fuses those
sightings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from waste_sorting import itemlist
from waste_sorting.inference.classifier import ImageClassifier
from waste_sorting.inference.preprocess import crop_square, square_box
from waste_sorting.itemlist import ItemFlags
from waste_sorting.vision.classification_budget import BudgetConfig, ClassificationBudget
from waste_sorting.vision.homography import Homography
from waste_sorting.vision.segmentation import BeltSegmenter, Blob


@dataclass
class DetectorConfig:
    classify_band: tuple[float, float] = (0.15, 0.85)  # fraction of the frame width
    crop_margin: float = 1.25
    max_items: int = 64
    max_classifications: int = 4   # per item while it crosses the view; 0: every sighting
    max_belt_speed: float = 4.0    # m/s, bounds the sighting links of the budget
    temperature: float = 1.0       # softmax temperature of the model's logits (1: as trained)


def _budget_config(cfg: DetectorConfig) -> BudgetConfig:
    return BudgetConfig(max_per_item=cfg.max_classifications, max_speed=cfg.max_belt_speed)


@dataclass
class FrameResult:
    records: np.ndarray       # ITEM_DTYPE, one per blob
    blobs: list[Blob]
    classified: np.ndarray    # bool per blob
    crops: np.ndarray | None = None  # with keep_crops: the classified blobs' crops as the model saw them
    probs: np.ndarray | None = None  # with keep_crops: their full class distributions


class ItemDetector:
    def __init__(self, segmenter: BeltSegmenter, homography: Homography,
                 classifier: ImageClassifier | None, cfg: DetectorConfig | None = None) -> None:
        self.segmenter, self.homography, self.classifier = segmenter, homography, classifier
        self.cfg = cfg or DetectorConfig()
        size = classifier.input_size if classifier else 1
        self._batch = np.empty((self.cfg.max_items, size, size, 3), np.uint8)
        self.budget = ClassificationBudget(_budget_config(self.cfg))

    def configure(self, cfg: DetectorConfig) -> None:
        """New settings at run time; the sighting memory restarts if its settings changed."""
        if _budget_config(cfg) != self.budget.cfg:
            self.budget = ClassificationBudget(_budget_config(cfg))
        self.cfg = cfg

    def process(self, frame: np.ndarray, stamp: float, keep_crops: bool = False) -> FrameResult:
        """One frame's items; ``keep_crops`` also returns the crops and distributions (harvesting)."""
        blobs = self.segmenter.segment(frame)[: self.cfg.max_items]
        n = len(blobs)
        rec = itemlist.empty(n)
        classified = np.zeros(n, bool)
        if n == 0:
            return FrameResult(rec, blobs, classified)
        h, w = frame.shape[:2]
        # The box centre, not the silhouette's centroid: the pulse must span the item's extent
        # along the belt, from leading to trailing edge, whatever its shape.
        centres = np.array([[(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2] for b in blobs])
        belt_c = self.homography.to_belt(centres)
        # Extents: map the four bbox corners of every blob at once.
        corners = np.array([[[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1]] for b in blobs], float)
        belt_k = self.homography.to_belt(corners.reshape(-1, 2)).reshape(n, 4, 2)
        rec["x"], rec["y"] = belt_c[:, 0], belt_c[:, 1]
        rec["length"] = np.ptp(belt_k[:, :, 0], axis=1)
        rec["width"] = np.ptp(belt_k[:, :, 1], axis=1)
        rec["stamp"] = stamp
        item_share = self.segmenter.cfg.item_share
        rec["flags"] = [(ItemFlags.TRUNCATED if b.touches_edge else 0) | (ItemFlags.BELT_LIKE if b.solid < item_share
                                                                          else 0) for b in blobs]
        lo, hi = self.cfg.classify_band[0] * w, self.cfg.classify_band[1] * w
        if self.classifier is not None:
            wanted = np.array([not b.touches_edge and lo <= b.cx <= hi for b in blobs])
            sizes = np.maximum(rec["length"], rec["width"]).astype(np.float64)
            chosen = self.budget.select(belt_c[:, 0], belt_c[:, 1], sizes, stamp, wanted)
            idx = np.flatnonzero(chosen).tolist()
            if idx:
                size = self.classifier.input_size
                for k, i in enumerate(idx):
                    b = blobs[i]
                    left, top, side = square_box(b.x0, b.y0, b.x1, b.y1, self.cfg.crop_margin)
                    self._batch[k] = crop_square(frame, left, top, side, size)
                probs = self.classifier.classify_crops(self._batch[: len(idx)], self.cfg.temperature)
                # The two most probable classes: fusing sightings from both beats fusing the winner alone.
                order, rows = np.argsort(-probs, axis=1), np.arange(len(idx))
                rec["class_id"][idx], rec["confidence"][idx] = order[:, 0], probs[rows, order[:, 0]]
                if probs.shape[1] > 1:
                    rec["class2_id"][idx], rec["confidence2"][idx] = order[:, 1], probs[rows, order[:, 1]]
                classified[idx] = True
                if keep_crops:
                    return FrameResult(rec, blobs, classified, self._batch[: len(idx)].copy(), probs)
        return FrameResult(rec, blobs, classified)
