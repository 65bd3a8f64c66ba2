"""Labelled image folders: their classes, a fixed holdout split, photos in the shape they were taken."""

from waste_sorting.data.folders import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_SPLIT_SEED,
    IMAGE_SUFFIXES,
    LabelledImage,
    discover_classes,
    fingerprint,
    list_images,
    split_images,
)
from waste_sorting.data.photos import PHOTO_ASPECT, as_taken

__all__ = [
    "DEFAULT_HOLDOUT_FRACTION",
    "DEFAULT_SPLIT_SEED",
    "IMAGE_SUFFIXES",
    "LabelledImage",
    "PHOTO_ASPECT",
    "as_taken",
    "discover_classes",
    "fingerprint",
    "list_images",
    "split_images",
]
