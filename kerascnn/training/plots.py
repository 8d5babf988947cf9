"""PNG plots of a run: learning curves and the test confusion matrix."""

from __future__ import annotations

import numpy as np

from kerascnn.utils.io import atomic_path

__all__ = ["plot_curves", "plot_confusion"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history_rows, path, best_epoch=None) -> None:
    """Loss and accuracy per epoch, training and validation; the best epoch marked."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    epochs = [row["epoch"] for row in history_rows]
    keys = sorted({k for row in history_rows for k in row if k != "epoch"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key in keys:
            if key.endswith(metric):
                ax.plot(epochs, [row.get(key, np.nan) for row in history_rows], marker="o",
                        label=key)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1,
                       label=f"best.keras (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def plot_confusion(cm, class_names, path, title="test confusion matrix") -> None:
    """The confusion matrix normalised by row (each true class sums to 1), with the
    counts written in the cells."""
    plt = _pyplot()
    n = len(class_names)
    size = max(4, 0.45 * n + 2)
    totals = cm.sum(axis=1, keepdims=True)
    rates = np.divide(cm, totals, out=np.zeros(cm.shape, float), where=totals > 0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (rows sum to 100%)")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{int(cm[i, j])}\n{rates[i, j]:.0%}", ha="center",
                        va="center", fontsize=6,
                        color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
