"""Frame -> items: the belt model and segmentation, belt coordinates, budgeted classification."""

from waste_sorting.vision.annotate import annotate, track_ids
from waste_sorting.vision.belt_model import BeltModel
from waste_sorting.vision.homography import Homography
from waste_sorting.vision.item_detector import DetectorConfig, FrameResult, ItemDetector
from waste_sorting.vision.segmentation import BeltSegmenter, Blob, SegmentationConfig

__all__ = [
    "BeltModel",
    "BeltSegmenter",
    "Blob",
    "DetectorConfig",
    "FrameResult",
    "Homography",
    "ItemDetector",
    "SegmentationConfig",
    "annotate",
    "track_ids",
]
