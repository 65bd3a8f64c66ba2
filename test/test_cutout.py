"""Cutting items out of studio photos: what the simulator and the belt augmentation paste on the belt."""

from __future__ import annotations

import cv2
import numpy as np

from waste_sorting.simulation.cutout import colour_hull_mask, item_mask


def _studio_photo() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A blue disc and a beige scrap apart from it on a pale, unevenly lit board."""
    img = np.full((240, 320, 3), 232, np.uint8)
    img[:] = (img.astype(np.float32) * np.linspace(0.93, 1.0, 320)[None, :, None]).astype(np.uint8)
    cv2.circle(img, (110, 140), 55, (200, 60, 30), -1)
    cv2.ellipse(img, (262, 45), (28, 18), 20, 0, 360, (150, 185, 215), -1)
    disc = np.zeros((240, 320), np.uint8)
    cv2.circle(disc, (110, 140), 55, 255, -1)
    scrap = np.zeros_like(disc)
    cv2.ellipse(scrap, (262, 45), (28, 18), 20, 0, 360, 255, -1)
    between = np.zeros_like(disc)
    cv2.line(between, (160, 110), (235, 60), 255, 9)
    between &= ~disc & ~scrap
    return img, disc > 0, scrap > 0, between > 0


def test_the_board_between_pieces_is_not_part_of_the_item() -> None:
    img, disc, scrap, between = _studio_photo()
    hull = colour_hull_mask(img) > 127
    refined = item_mask(img) > 127
    # The hull of the pieces swallows the board between them: pasted on a dark belt that is a pale wedge.
    assert hull[between].mean() > 0.9
    assert refined[between].mean() < 0.05
    assert refined[disc].mean() > 0.97
    # A detached scrap is not part of the item: pasted with it, it would be seen as an item of its own.
    assert hull[scrap].mean() > 0.9 and refined[scrap].mean() < 0.05
    assert refined.shape == img.shape[:2]


def test_cut_out_is_deterministic() -> None:
    img, *_ = _studio_photo()
    first = item_mask(img)
    cv2.setRNGSeed(1234)
    cv2.kmeans(np.random.default_rng(0).random((50, 2), np.float32), 3, None,
               (cv2.TERM_CRITERIA_MAX_ITER, 5, 1.0), 1, cv2.KMEANS_PP_CENTERS)  # stir OpenCV's global RNG
    assert np.array_equal(first, item_mask(img))


def test_an_item_filling_the_frame_keeps_the_whole_image() -> None:
    rng = np.random.default_rng(0)
    shade = np.linspace(0.85, 1.0, 320)[None, :, None]
    sheet = np.full((240, 320, 3), (90, 140, 180), np.float32) * shade + rng.normal(0, 3, (240, 320, 3))
    sheet = np.clip(sheet, 0, 255).astype(np.uint8)  # a cardboard sheet edge to edge: no board to find
    assert (item_mask(sheet) == 255).all()
