"""`waste-sorting classify`: classify image files or folders with the cell's preprocessing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.data.folders import IMAGE_SUFFIXES
from waste_sorting.data.photos import aspect_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped model)")
    p.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime"))
    p.add_argument("--json", action="store_true", help="print a JSON list instead of lines")
    p.add_argument("--top", type=int, default=1, help="also list the top-k classes")
    p.add_argument("--photo-aspect", type=aspect_argument, default=0.0,
                   help="stretch each photo to this true width/height first (4:3 = 1.333 for TrashNet's files, "
                        "stored squeezed to 3:4); 0 (default) takes photos as stored")


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


def run(args: argparse.Namespace) -> int:
    files = collect(args.paths)
    if not files:
        print("no images found", file=sys.stderr)
        return 2
    results = classify_paths(files, args.model, args.backend, args.top, args.photo_aspect)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['path']}: ERROR {r['error']}")
            else:
                print(f"{r['path']}: {r['label']} {r['confidence']:.3f}")
    errors = sum("error" in r for r in results)
    if errors:
        print(f"{errors} of {len(results)} files could not be classified", file=sys.stderr)
    return 1 if errors == len(results) else 0
