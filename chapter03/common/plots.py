"""Pictures of a training run: loss and accuracy curves, the confusion matrix, the digits the network got most wrong.

Drawn without a window (Matplotlib's Figure, no pyplot) and written atomically. Matplotlib is imported by the first
picture, not before: a run that only checks the layers starts half a second sooner.
"""

import io

import numpy as np

from coursekit.files import write_atomically


def _save(fig, path):
    buffer = io.BytesIO()  # drawn in memory first, so that a full disk fails one plain write, not Matplotlib's own
    fig.savefig(buffer, format="png")
    write_atomically(path, lambda file: file.write(buffer.getbuffer()))


class LossPlot:
    """loss.png, updated after every epoch: the figure is built once and only its data change."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.fig = Figure(figsize=(9, 3.6), dpi=90)
        # Fixed margins: an automatic layout would be computed again at every save, and costs as much as the drawing.
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
        loss_ax, acc_ax = self.fig.subplots(1, 2)
        self.lines = {
            "train_loss": loss_ax.plot([], [], "o-", label="training")[0],
            "val_loss": loss_ax.plot([], [], "o-", label="validation")[0],
            "train_acc": acc_ax.plot([], [], "o-", label="training")[0],
            "val_acc": acc_ax.plot([], [], "o-", label="validation")[0],
        }
        for ax, title in ((loss_ax, "Loss (cross-entropy)"), (acc_ax, "Accuracy (%)")):
            ax.set_title(title)
            ax.set_xlabel("epoch")
            # min_n_ticks=1: with one epoch there is one whole number in view, and the default (2) would fall back
            # to ticks at 0.6, 0.8, ...
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.grid(alpha=0.3)
            ax.legend()
        self.axes = (loss_ax, acc_ax)

    def update(self, history, path):
        """history: dict of per-epoch lists train_loss, train_acc, val_loss, val_acc (accuracies in [0, 1])."""
        epochs = np.arange(1, len(history["train_loss"]) + 1)
        for key, line in self.lines.items():
            values = np.asarray(history[key], dtype=float)
            line.set_data(epochs, values * 100 if key.endswith("acc") else values)
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
            ax.set_xlim(0.5, max(len(epochs), 1) + 0.5)
        _save(self.fig, path)


def save_confusion_matrix(labels, predictions, path, classes=10):
    """confusion.png: how often each true digit (row) was read as each digit (column), on the test set."""
    from matplotlib.figure import Figure

    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    fig = Figure(figsize=(6, 5.4), dpi=90, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.log1p(counts), cmap="Blues")  # log scale, so that the rare mistakes are visible too
    for true in range(classes):
        for predicted in range(classes):
            dark = image.norm(np.log1p(counts[true, predicted])) > 0.6
            ax.text(predicted, true, counts[true, predicted], ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix on the test set ({accuracy:.2%} right)")
    _save(fig, path)


def save_worst_mistakes(images, labels, probs, path, count=24):
    """mistakes.png: the wrongly classified digits the network was most sure about. images (N, 784) uint8."""
    from matplotlib.figure import Figure

    predictions = probs.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    worst = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:count]
    columns = 8
    rows = max(1, -(-len(worst) // columns))
    fig = Figure(figsize=(columns * 1.2, rows * 1.45), dpi=90, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, worst):
        ax.imshow(images[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"true {labels[i]}, saw {predictions[i]}\n{probs[i, predictions[i]]:.0%} sure", fontsize=7)
    fig.suptitle("Test digits the network got most wrong")
    _save(fig, path)
