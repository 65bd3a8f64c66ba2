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


def _board(rng: np.random.Generator) -> np.ndarray:
    """A pale grey studio board, lit unevenly, with sensor noise."""
    shade = np.linspace(0.9, 1.0, 320)[None, :, None] * np.linspace(0.95, 1.0, 240)[:, None, None]
    board = np.full((240, 320, 3), 226.0) * shade + rng.normal(0, 2, (240, 320, 3))
    return np.clip(board, 0, 255).astype(np.uint8)


def test_a_clear_glass_item_is_cut_along_its_outline() -> None:
    """Clear glass has the board's colour; only its outline and highlights show. It used to paste the
    whole photo (colour found nothing), studio board and all."""
    img = _board(np.random.default_rng(1))
    glass = np.zeros((240, 320), np.uint8)
    cv2.ellipse(glass, (160, 120), (80, 45), 15, 0, 360, 255, -1)
    cv2.ellipse(img, (160, 120), (80, 45), 15, 0, 360, (150, 150, 150), 3)       # rim
    cv2.line(img, (120, 110), (190, 128), (250, 250, 250), 2)                    # highlight
    cv2.line(img, (125, 125), (185, 142), (175, 175, 175), 2)                    # refraction
    assert (colour_hull_mask(img) == 255).all()  # no colour of its own
    mask = item_mask(img) > 127
    inside = glass > 0
    assert mask[inside].mean() > 0.9
    assert mask[~cv2.dilate(glass, np.ones((9, 9), np.uint8)).astype(bool)].mean() < 0.02


def test_a_soft_shadow_is_not_pasted_with_the_item() -> None:
    img = _board(np.random.default_rng(2)).astype(np.float32)
    shadow = np.zeros((240, 320), np.float32)
    cv2.ellipse(shadow, (175, 140), (70, 50), 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 12)
    img = (img * (1 - 0.3 * shadow[..., None])).astype(np.uint8)   # soft: no edge where it ends
    cv2.circle(img, (150, 120), 45, (40, 90, 170), -1)
    disc = np.zeros((240, 320), np.uint8)
    cv2.circle(disc, (150, 120), 45, 255, -1)
    mask = item_mask(img) > 127
    shadow_only = (shadow > 0.3) & ~cv2.dilate(disc, np.ones((7, 7), np.uint8)).astype(bool)
    assert mask[disc > 0].mean() > 0.95
    assert mask[shadow_only].mean() < 0.1


def test_a_cardboard_close_up_with_folds_and_print_keeps_the_whole_image() -> None:
    """Folds and print enclose regions, but a border the colour of cardboard is no studio board."""
    rng = np.random.default_rng(3)
    sheet = np.full((240, 320, 3), (95, 145, 190), np.float32) * np.linspace(0.8, 1.0, 320)[None, :, None]
    sheet = np.clip(sheet + rng.normal(0, 3, sheet.shape), 0, 255).astype(np.uint8)
    cv2.line(sheet, (0, 150), (320, 110), (60, 100, 140), 3)                  # a fold
    cv2.rectangle(sheet, (40, 30), (150, 80), (30, 30, 30), 2)                # print
    cv2.putText(sheet, "PF-0131", (60, 210), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (30, 30, 30), 3)
    assert (item_mask(sheet) == 255).all()
