"""Classification metrics and report figures (numpy + matplotlib only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def classification_report(labels: np.ndarray, preds: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Top-1, per-class precision/recall/F1 and the confusion matrix (rows = truth)."""
    cm = confusion_matrix(np.asarray(labels), np.asarray(preds), len(classes))
    per_class = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i].sum() if cm[i].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[name] = {"precision": float(prec), "recall": float(rec), "f1": float(f1),
                           "support": int(cm[i].sum())}
    top1 = float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0
    return {"top1": top1, "images": int(cm.sum()), "per_class": per_class,
            "confusion": cm.tolist(), "classes": list(classes)}


def save_confusion_png(cm: np.ndarray, classes: list[str], path: Path, title: str = "confusion") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_curves_png(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history])
    a.set_xlabel("epoch")
    a.set_ylabel("train loss")
    b.plot(ep, [h["train_acc"] for h in history], label="train")
    b.plot(ep, [h["holdout_acc"] for h in history], label="holdout")
    belt = [(h["epoch"], h["holdout_belt_acc"]) for h in history if "holdout_belt_acc" in h]
    if belt:  # runs resumed from before the belt metric lack it for their first epochs
        b.plot([e for e, _ in belt], [a for _, a in belt], label="holdout on the belt")
    b.set_xlabel("epoch")
    b.set_ylabel("top-1")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
