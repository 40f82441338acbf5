"""Pictures of a training run: loss and accuracy curves, the confusion matrix, the digits the network got most wrong.
Drawn without a window (Matplotlib's Figure, no pyplot), imported by the first picture (a check run starts sooner)."""

import numpy as np

from coursekit.files import write_atomically
from coursekit.i18n import language, say

# Matplotlib's own font has no Chinese characters (they would be drawn as boxes): a Chinese run's pictures are in
# Chinese when the machine has one of these fonts (Windows, macOS, Linux), and in English otherwise.
CHINESE_FONTS = ("Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Noto Sans CJK SC",
                 "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                 "Noto Sans CJK JP")  # Debian's fonts-noto-cjk: the first face of its .ttc, Chinese characters too


def picture_text(en, zh):
    """A picture's text in the run's language, where a font can draw it (the first call sets Matplotlib's font)."""
    if language() != "zh":
        return en
    from matplotlib import font_manager, rcParams

    installed = {font.name for font in font_manager.fontManager.ttflist}
    chinese = [name for name in CHINESE_FONTS if name in installed]
    if chinese and chinese[0] not in rcParams["font.sans-serif"]:
        rcParams["font.sans-serif"] = [chinese[0], *rcParams["font.sans-serif"]]
    return say(en, zh) if chinese else en


class LossPlot:
    """loss.png, updated after every epoch: the figure is built once and only its data change."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.fig = Figure(figsize=(9, 3.6), dpi=90)
        # Fixed margins: an automatic layout would be computed again at every save, and costs as much as the drawing.
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
        self.axes = self.fig.subplots(1, 2)
        self.lines = {}
        titles = picture_text("Loss (cross-entropy)", "损失（交叉熵）"), picture_text("Accuracy (%)", "准确率（%）")
        parts = ("train", picture_text("training", "训练集")), ("val", picture_text("validation", "验证集"))
        for ax, kind, title in zip(self.axes, ("loss", "acc"), titles):
            for part, label in parts:
                self.lines[f"{part}_{kind}"] = ax.plot([], [], "o-", label=label)[0]
            ax.set(title=title, xlabel=picture_text("epoch", "轮"))
            # min_n_ticks=1: one epoch is one whole number in view; the default (2) would put ticks at 0.6, 0.8...
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.grid(alpha=0.3)
            ax.legend()

    def update(self, history, path):
        """history: per-epoch lists train_loss, train_acc, val_loss, val_acc (accuracies in [0, 1])."""
        epochs = np.arange(1, len(history["train_loss"]) + 1)
        for key, line in self.lines.items():
            line.set_data(epochs, np.asarray(history[key], dtype=float) * (100 if key.endswith("acc") else 1))
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
            ax.set_xlim(0.5, len(epochs) + 0.5)
        write_atomically(path, lambda file: self.fig.savefig(file, format="png"))


def save_confusion_matrix(labels, predictions, path, classes=10):
    """confusion.png: how often each true digit (row) was read as each digit (column), on the test set."""
    from matplotlib.figure import Figure

    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    right = f"{np.trace(counts) / max(counts.sum(), 1):.2%}"
    fig = Figure(figsize=(6, 5.4), dpi=90)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.1, top=0.93)  # fixed: a computed layout costs the drawing again
    ax = fig.subplots()
    image = ax.imshow(np.log1p(counts), cmap="Blues")  # log scale, so that the rare mistakes are visible too
    for (true, predicted), count in np.ndenumerate(counts):
        ax.text(predicted, true, count, ha="center", va="center", fontsize=8,
                color="white" if image.norm(np.log1p(count)) > 0.6 else "black")
    ax.set(xticks=range(classes), yticks=range(classes), xlabel=picture_text("predicted digit", "认成的数字"),
           ylabel=picture_text("true digit", "真实的数字"),
           title=picture_text(f"Confusion matrix on the test set ({right} right)", f"测试集上的混淆矩阵（对 {right}）"))
    write_atomically(path, lambda file: fig.savefig(file, format="png"))


def save_worst_mistakes(images, labels, probs, path, count=24, columns=8):
    """mistakes.png: the wrongly classified digits the network was most sure about. images (N, 784) uint8."""
    from matplotlib.figure import Figure

    predictions = probs.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    worst = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:count]
    rows = max(1, -(-len(worst) // columns))
    # One picture of all the digits, 28 x 28 each in a 40 x 40 cell (room for its caption): one axes draws in a
    # tenth of the time of an axes per digit.
    cell, caption = 40, 10
    mosaic = np.zeros((rows * cell, columns * cell), dtype=np.uint8)
    fig = Figure(figsize=(columns * 1.2, rows * 1.3 + 0.4), dpi=90)
    ax = fig.add_axes((0, 0, 1, rows * 1.3 / (rows * 1.3 + 0.4)))
    ax.axis("off")
    for n, i in enumerate(worst):
        top, left = n // columns * cell + caption, n % columns * cell + (cell - 28) // 2
        mosaic[top : top + 28, left : left + 28] = images[i].reshape(28, 28)
        true, saw, sure = labels[i], predictions[i], f"{probs[i, predictions[i]]:.0%}"
        caption_text = picture_text(f"true {true}, saw {saw}\n{sure} sure", f"真实 {true}，认成 {saw}\n把握 {sure}")
        ax.text(left + 14, top - 1, caption_text, ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255)
    fig.suptitle(picture_text("Test digits the network got most wrong", "网络最有把握却认错的测试数字"),
                 y=1 - 0.1 / (rows * 1.3 + 0.4))
    write_atomically(path, lambda file: fig.savefig(file, format="png"))
