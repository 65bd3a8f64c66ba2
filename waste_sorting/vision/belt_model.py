"""The empty belt as the segmenter learnt it, and its file: what `calibrate belt` writes and the classifier
loads at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from waste_sorting.errors import DataError


@dataclass
class BeltModel:
    """The empty belt as the segmenter learnt it: what `calibrate belt` saves and the classifier loads."""

    tiles: np.ndarray        # rows x cols x 3 float32, mean BGR of the belt per tile
    tile_px: int
    downscale: int
    frame_size: tuple[int, int]  # (width, height) of the full frames it was learnt on
    # The darkest shade its stains gave the empty belt, less a margin (None: not measured): where it is below
    # shade_min, the segmenter takes shades down to it for stains too. A wet line's stains can be darker than
    # the default allows, and then every one of them is an item.
    shade_min: float | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            np.savez(f, tiles=self.tiles, tile_px=self.tile_px, downscale=self.downscale,
                     frame_size=np.array(self.frame_size),
                     shade_min=np.nan if self.shade_min is None else self.shade_min)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> BeltModel:
        try:
            with np.load(path) as z:
                shade = float(z["shade_min"]) if "shade_min" in z.files else float("nan")
                return cls(z["tiles"].astype(np.float32), int(z["tile_px"]), int(z["downscale"]),
                           (int(z["frame_size"][0]), int(z["frame_size"][1])), None if shade != shade else shade)
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"belt model {path}: not readable ({exc}); make one with "
                            "`waste-sorting calibrate belt BAG --out FILE`") from None
