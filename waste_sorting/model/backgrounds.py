"""Backgrounds to paste cut-out items on, so that the background stops predicting the class.

TrashNet shot each class on its own board and light: a model trained on its
photos learns the board. Pasting every item on backgrounds drawn independently
of its class (the belt, pale and dark boards, gradients, clutter) and under a
random white balance leaves the material as the only cue.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from waste_sorting.simulation.belt_texture import belt_texture

Background = Callable[[int, int, np.random.Generator], np.ndarray]


def dark_belt(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    return belt_texture(h, w, rng, base=rng.uniform(35, 95))


def plain_board(h: int, w: int, rng: np.random.Generator, lo: float = 20, hi: float = 245) -> np.ndarray:
    """A flat board of a random grey or tint, with fine grain."""
    colour = rng.uniform(lo, hi) * rng.uniform(0.85, 1.15, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = colour
    img += cv2.GaussianBlur(rng.normal(0.0, 4.0, (h, w)).astype(np.float32), (0, 0), 0.8)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def gradient(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Light falling off across the view in a random direction, between two random tints."""
    a, b = rng.uniform(20, 240, 3), rng.uniform(20, 240, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * xx / max(w - 1, 1) + np.sin(angle) * yy / max(h - 1, 1))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def clutter(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A board with random blobs and strokes of other colours: edges that belong to no item."""
    img = plain_board(h, w, rng)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(2, max(3, w // 4))), int(rng.integers(2, max(3, h // 4))))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 4)))
    return cv2.GaussianBlur(img, (0, 0), 0.7)


#: name -> generator; "belt" alone is what the simulator's belt looks like.
BACKGROUNDS: dict[str, Background] = {
    "belt": dark_belt,
    "white": lambda h, w, rng: plain_board(h, w, rng, 235, 250),
    "grey": lambda h, w, rng: plain_board(h, w, rng, 115, 140),
    "pale": lambda h, w, rng: plain_board(h, w, rng, 170, 250),
    "dark": lambda h, w, rng: plain_board(h, w, rng, 5, 70),
    "board": plain_board,
    "gradient": gradient,
    "clutter": clutter,
}
BACKGROUND_SETS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in BACKGROUNDS},
    # Half the views on the belt the cell lives on, the rest on anything else.
    "varied": ("belt", "belt", "belt", "pale", "dark", "board", "gradient", "clutter"),
}
#: What `waste-sorting check-backgrounds` pastes the holdout items on.
CHECK_BACKGROUNDS = ("white", "grey", "belt", "clutter")


def random_background(h: int, w: int, rng: np.random.Generator, names: tuple[str, ...]) -> np.ndarray:
    # One name draws nothing, so the fixed-seed belt views (holdout_belt_acc) stay what they were.
    name = names[0] if len(names) == 1 else names[int(rng.integers(len(names)))]
    return BACKGROUNDS[name](h, w, rng)


def white_balance(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Per-channel gains around 1 (a camera's white balance), mean brightness kept."""
    if strength <= 0:
        return img
    gains = rng.uniform(1 - strength, 1 + strength, 3).astype(np.float32)
    gains /= gains.mean()
    return np.clip(img.astype(np.float32) * gains, 0, 255).astype(np.uint8)
