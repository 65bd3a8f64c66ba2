"""Training views: what the belt does to an item's picture, reproduced so the model learns it."""

from __future__ import annotations

import numpy as np

from waste_sorting.model.augment import BELT_HOLDOUT_VIEW, AugmentConfig, augment


def _photo() -> tuple[np.ndarray, np.ndarray]:
    """A finely checkered item (detail only a sharp view shows) in the middle of a pale board."""
    img = np.full((240, 320, 3), 230, np.uint8)
    yy, xx = np.mgrid[60:180, 100:220]
    img[60:180, 100:220] = np.where(((yy + xx) % 2 == 0)[..., None], 20, 200).astype(np.uint8)
    mask = np.zeros((240, 320), np.uint8)
    mask[60:180, 100:220] = 255
    return img, mask


def _detail(view: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours in the item's centre."""
    c = view[40:88, 40:88].astype(np.float32)
    return float(np.abs(np.diff(c, axis=1)).mean())


def test_low_resolution_views_lose_the_detail_a_distant_camera_cannot_see() -> None:
    img, mask = _photo()
    sharp_cfg = AugmentConfig(belt_p=1.0, rotate=False, scale_range=(1.0, 1.0), shift=0.0, photometric=0.0,
                              hue_deg=0.0, blur_p=0.0, low_res_p=0.0)
    low_cfg = AugmentConfig(**{**sharp_cfg.__dict__, "low_res_p": 1.0, "low_res_range": (0.4, 0.4)})
    sharp = augment(img, mask, 128, np.random.default_rng(0), sharp_cfg)
    low = augment(img, mask, 128, np.random.default_rng(0), low_cfg)
    assert sharp.shape == low.shape == (128, 128, 3)
    assert _detail(low) < 0.5 * _detail(sharp)


def test_the_belt_holdout_view_is_the_same_every_time() -> None:
    img, mask = _photo()
    a = augment(img, mask, 96, np.random.default_rng(7), BELT_HOLDOUT_VIEW)
    b = augment(img, mask, 96, np.random.default_rng(7), BELT_HOLDOUT_VIEW)
    assert np.array_equal(a, b)
    # On the belt: the corners of the view are belt, far darker than the studio board.
    assert a[:6, :6].mean() < 150 < img[:6, :6].mean()


def test_an_item_filling_its_photo_goes_on_the_belt_as_the_simulator_pastes_it() -> None:
    sheet = np.full((240, 320, 3), 200, np.uint8)  # a sheet of cardboard edge to edge: the mask is everything
    mask = np.full((240, 320), 255, np.uint8)
    cfg = AugmentConfig(belt_p=1.0, rotate=True, photometric=0.0, hue_deg=0.0, blur_p=0.0, low_res_p=0.0)
    views = [augment(sheet, mask, 96, np.random.default_rng(k), cfg) for k in range(8)]
    # Rotated rectangles on dark belt: the belt shows in the corners of most views.
    assert sum(v[:4, :4].mean() < 120 for v in views) >= 6
