"""Backgrounds for cut-out items: each generator's look, and class-independent white balance."""

from __future__ import annotations

import numpy as np

from waste_sorting.model.augment import BELT_HOLDOUT_VIEW, AugmentConfig, augment
from waste_sorting.model.backgrounds import BACKGROUND_SETS, BACKGROUNDS, random_background, white_balance


def test_every_background_is_an_image_of_the_asked_size():
    rng = np.random.default_rng(0)
    for name, make in BACKGROUNDS.items():
        img = make(48, 64, rng)
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8, name
    assert BACKGROUNDS["white"](32, 32, rng).mean() > 200 > 60 > BACKGROUNDS["dark"](32, 32, rng).mean()


def test_the_belt_alone_draws_nothing_so_fixed_seed_belt_views_keep_their_meaning():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    random_background(16, 16, a, BACKGROUND_SETS["belt"])
    BACKGROUNDS["belt"](16, 16, b)
    assert a.random() == b.random()


def test_varied_views_differ_in_background_and_white_balance_keeps_brightness():
    img = np.full((40, 40, 3), 128, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    cfg = AugmentConfig(belt_p=1.0, backgrounds="varied", photometric=0, hue_deg=0, blur_p=0, low_res_p=0)
    corners = {int(augment(img, mask, 32, np.random.default_rng(i), cfg)[0, 0].mean()) for i in range(12)}
    assert len(corners) > 4
    belt = {int(augment(img, mask, 32, np.random.default_rng(i), BELT_HOLDOUT_VIEW)[0, 0].mean()) for i in range(12)}
    assert max(belt) < 120, "the belt set pastes on dark belt only"
    balanced = white_balance(img, np.random.default_rng(0), 0.2)
    assert abs(float(balanced.mean()) - 128) < 2 and len(set(balanced[0, 0].tolist())) > 1
