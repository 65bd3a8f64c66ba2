"""Build the small demo image set shipped in the package (from the training holdout only).

Reproduce with::

    python -m waste_sorting.data.demo_set ../shared/data/trashnet waste_sorting/demo_images
"""

from __future__ import annotations

from pathlib import Path

import cv2

from waste_sorting.data.folders import discover_classes, list_images, split_images

LICENCE = """Demo images: a few photographs from TrashNet, reduced in size.

TrashNet by Gary Thung and Mindy Yang (Stanford CS229, 2016),
https://github.com/garythung/trashnet

MIT License

Copyright (c) 2017 Gary Thung

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.

These images come from the fixed holdout split (seed 42, 20 %): the shipped
model never trained on them.
"""


def make_demo_set(src: Path, dst: Path, per_class: int = 8, max_side: int = 256) -> int:
    classes = discover_classes(src)
    _, holdout = split_images(list_images(src, classes))
    written = 0
    for label, name in enumerate(classes):
        picks = [it for it in holdout if it.label == label][:per_class]
        (dst / name).mkdir(parents=True, exist_ok=True)
        for it in picks:
            img = cv2.imread(str(it.path), cv2.IMREAD_COLOR)
            scale = max_side / max(img.shape[:2])
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(dst / name / (it.path.stem + ".jpg")), img, [cv2.IMWRITE_JPEG_QUALITY, 88])
            written += 1
    (dst / "LICENSE-TRASHNET.txt").write_text(LICENCE)
    return written
