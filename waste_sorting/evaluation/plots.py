"""Evaluation figures: confusion matrix, eject timing histogram, items along the belt over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting.evaluation.scoring import TruthItem
from waste_sorting.model.metrics import save_confusion_png


def write_plots(folder: Path, result: dict[str, Any], timing_errors_ms: list[float],
                truth: list[TruthItem]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    classes = result["classes"]
    cm = np.array(result["confusion"])[:, : len(classes)]
    out = [folder / "confusion.png", folder / "timing_error.png", folder / "belt.png"]
    save_confusion_png(cm, classes, out[0], title="classification on the belt")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(timing_errors_ms, bins=40)
    ax.set_xlabel("item centre crossing - air mid-time (ms)")
    ax.set_ylabel("pulses")
    fig.tight_layout()
    fig.savefig(out[1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    for it in truth:
        ax.plot(it.t - truth[0].t[0], it.x, color=f"C{it.class_id}", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("x along the belt (m)")
    ax.set_title("items along the belt (colour = true class)")
    fig.tight_layout()
    fig.savefig(out[2], dpi=100)
    plt.close(fig)
    return out
