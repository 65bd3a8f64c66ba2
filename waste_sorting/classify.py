"""`waste-sorting classify`: classify image files or folders with the cell's preprocessing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.data.folders import IMAGE_SUFFIXES


def collect(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(p)  # named explicitly: try it whatever its suffix, report if unreadable
    return files


def classify_paths(files: list[Path], model: Path | None, backend: str = "auto",
                   top: int = 1, photo_aspect: float = 0.0) -> list[dict[str, Any]]:
    """One result per file; unreadable files get an ``error`` and do not stop the batch."""
    import cv2
    import numpy as np

    from waste_sorting.data.photos import as_taken
    from waste_sorting.inference.classifier import ImageClassifier

    clf = ImageClassifier(model or paths.default_model(), backend)
    results: list[dict[str, Any]] = []
    images, slots = [], []
    for f in files:
        entry: dict[str, Any] = {"path": str(f)}
        results.append(entry)
        if not f.is_file():
            entry["error"] = "no such file"
            continue
        img = cv2.imdecode(np.fromfile(str(f), np.uint8), cv2.IMREAD_COLOR) if f.stat().st_size else None
        if img is None:
            entry["error"] = "not a readable image (corrupt or unsupported format)"
            continue
        images.append(as_taken(img, photo_aspect))
        slots.append(entry)
    if images:
        probs = clf.classify_images(images)
        for entry, p in zip(slots, probs, strict=True):
            order = np.argsort(-p)
            entry["label"] = clf.classes[int(order[0])]
            entry["confidence"] = round(float(p[order[0]]), 4)
            if top > 1:
                entry["top"] = [{"label": clf.classes[int(i)], "confidence": round(float(p[i]), 4)}
                                for i in order[:top]]
    return results
