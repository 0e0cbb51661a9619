"""PNG writers for a run folder: training curves, confusion matrix, prediction grid.

Matplotlib's non-interactive Agg backend is used explicitly, so plotting works headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def write_curves_png(history: Mapping[str, Sequence[float]], path: str | os.PathLike[str]) -> None:
    """Loss and accuracy per epoch, train vs validation, side by side (as the tutorials plot)."""
    epochs = [int(e) + 1 for e in history.get("epoch", range(len(history.get("loss", []))))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history and len(history[key]):
                ax.plot(epochs, [float(v) for v in history[key]], marker="o", label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_confusion_png(
    matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike[str], title: str = "confusion matrix"
) -> None:
    """Counts per (true, predicted) class, rows are true classes."""
    k = len(class_names)
    size = max(4.0, 0.6 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(k), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = matrix.max() if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                    color="white" if top and matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_prediction_grid(
    images: Sequence[np.ndarray], captions: Sequence[str], path: str | os.PathLike[str], columns: int = 4
) -> None:
    """Images with their predicted labels underneath (seed 001's 3×3 grid, any count)."""
    n = max(1, len(images))
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(image.astype("uint8"))
        ax.set_title(caption, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
