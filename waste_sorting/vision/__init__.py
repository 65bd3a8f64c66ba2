"""Camera-side vision: pixel <-> belt mapping and item segmentation."""
