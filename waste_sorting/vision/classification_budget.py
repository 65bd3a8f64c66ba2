"""Bound how many times one item is classified while it crosses the view.

An item stays in view for 10-20 frames; classifying it in every one costs the
most time on the hot path and adds little after a few looks. The classifier
stage has no tracks (the tracker owns them), so this keeps a short memory of
recent sightings and links a detection to one of them when the link is
unambiguous: same lateral position, similar size, and moved downstream by no
more than ``max_speed`` allows since. A linked item that has had
``max_per_item`` classifications is passed on unclassified (class_id -1), which
the tracker already treats as a sighting without class evidence. Anything
ambiguous (two candidates either way) is classified, so a mistake costs time,
never a missing class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BudgetConfig:
    max_per_item: int = 4         # classifications per item; 0: classify every sighting
    max_speed: float = 4.0        # m/s, the fastest belt the link must follow
    lateral_tol: float = 0.03     # m, drift across the belt between two frames
    along_tol: float = 0.03       # m, slack along the belt (segmentation jitter, a belt that stops)
    size_tol: float = 0.5         # relative change of the larger extent between two sightings
    forget_after: float = 0.5     # s without a sighting: the entry is dropped
    max_entries: int = 512

    def validate(self) -> None:
        if self.max_per_item < 0:
            raise ValueError("max_per_item must be >= 0")
        if self.max_speed <= 0 or self.forget_after <= 0:
            raise ValueError("max_speed and forget_after must be > 0")


class ClassificationBudget:
    """Decides, frame by frame, which detections still need a classification."""

    def __init__(self, cfg: BudgetConfig | None = None) -> None:
        self.cfg = cfg or BudgetConfig()
        self.cfg.validate()
        n = self.cfg.max_entries
        self._x, self._y, self._size = np.zeros(n), np.zeros(n), np.zeros(n)
        self._stamp = np.full(n, -np.inf)
        self._count = np.zeros(n, np.int32)
        self._used = 0
        self.skipped = 0  # classifications saved, for diagnostics

    def select(self, x: np.ndarray, y: np.ndarray, size: np.ndarray, stamp: float,
               wanted: np.ndarray) -> np.ndarray:
        """Which of this frame's detections to classify (a subset of ``wanted``).

        ``x``, ``y`` are belt positions (m) at ``stamp``, ``size`` the larger extent (m);
        every detection is given, classified or not, so the links stay unbroken.
        """
        if self.cfg.max_per_item == 0:
            return wanted.copy()
        self._forget(stamp)
        overflow = self._used + len(x) - self.cfg.max_entries
        if overflow > 0:
            self._drop_oldest(overflow)
        m = self._used
        link = np.full(len(x), -1)
        if m and len(x):
            ex, ey, es = self._x[:m], self._y[:m], self._size[:m]
            dt = np.maximum(stamp - self._stamp[:m], 0.0)
            dx = x[:, None] - ex[None, :]
            ok = (dx >= -self.cfg.along_tol) & (dx <= self.cfg.max_speed * dt[None, :] + self.cfg.along_tol)
            ok &= np.abs(y[:, None] - ey[None, :]) <= self.cfg.lateral_tol
            ok &= np.abs(size[:, None] - es[None, :]) <= self.cfg.size_tol * np.maximum(size[:, None], es[None, :])
            unique = (ok.sum(1) == 1) & (ok.sum(0)[ok.argmax(1)] == 1)
            link[unique] = ok.argmax(1)[unique]
        classify = wanted.copy()
        linked = link >= 0
        classify[linked] &= self._count[link[linked]] < self.cfg.max_per_item
        self.skipped += int((wanted & ~classify).sum())
        # Update linked entries in place; unlinked detections start new ones.
        idx = link.copy()
        fresh = np.flatnonzero(~linked)
        idx[fresh] = np.arange(self._used, self._used + len(fresh))
        self._count[idx[fresh]] = 0
        self._used += len(fresh)
        self._x[idx], self._y[idx], self._size[idx], self._stamp[idx] = x, y, size, stamp
        np.add.at(self._count, idx[classify], 1)
        return classify

    def _forget(self, stamp: float) -> None:
        """Drop stale entries, and all of them when time runs backwards (a bag restarts)."""
        st = self._stamp[: self._used]
        keep = np.flatnonzero((st >= stamp - self.cfg.forget_after) & (st <= stamp))
        self._compact(keep)

    def _drop_oldest(self, k: int) -> None:
        order = np.argsort(self._stamp[: self._used])
        self._compact(np.sort(order[k:]))

    def _compact(self, keep: np.ndarray) -> None:
        n = len(keep)
        for arr in (self._x, self._y, self._size, self._stamp, self._count):
            arr[:n] = arr[keep]
        self._stamp[n:] = -np.inf
        self._used = n
