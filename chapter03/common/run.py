"""One training run of main.py: build the network, train epoch after epoch saving each one, then test it.

    config = Config.from_args(args)          # the flags that shape a run, built once
    train_and_test(model_module, model_file, data, config, model_dir, command)
"""

import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from coursekit.errors import KitError
from coursekit.student_code import explain_exception, raised_in

from . import checkpoint, plots, train

INPUT_DIM, CLASSES = 784, 10


@dataclass(frozen=True)
class Config:
    """What decides a run's result: saved whole in model.npz, so a resumed run is the same run."""

    hidden_dims: tuple
    lr: float
    momentum: float
    batch_size: int
    epochs: int
    seed: int

    @classmethod
    def from_args(cls, args):
        return cls(tuple(args.hidden_dims), args.lr, args.momentum, args.batch_size, args.epochs, args.seed)

    def as_dict(self):
        return asdict(self)

    def layers(self):
        return "-".join(map(str, (INPUT_DIM, *self.hidden_dims, CLASSES)))

    def settings(self):
        return f"lr {self.lr}, momentum {self.momentum}, batch {self.batch_size}, {plural(self.epochs, 'epoch')}"


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def train_and_test(model_module, model_file, data, config, model_dir, command, resume=False):
    """Train for config.epochs epochs (or what resume leaves), saving after every epoch, then test.

    command: the command line as the user typed it, to tell them how to continue after Ctrl-C.
    """
    model_path = model_dir / "model.npz"
    model = model_module.MLP(INPUT_DIM, list(config.hidden_dims), CLASSES, rng=np.random.default_rng(config.seed))
    loss_fn = model_module.CrossEntropyLoss()
    optimizer = train.SGD(model.parameters(), config.lr, config.momentum)
    history = {key: [] for key in checkpoint.HISTORY_KEYS}
    first_epoch = 0
    if resume:
        first_epoch, history = checkpoint.resume(model_path, model, optimizer, config)
    loss_plot = plots.LossPlot()

    def save(epoch):
        checkpoint.save(model_path, model, optimizer, config, epoch, history)
        try:
            loss_plot.update(history, model_dir / "loss.png")
        except KitError as error:  # e.g. an image viewer on Windows holds the file: not a reason to stop training
            print(f"Warning: {error}", file=sys.stderr)

    print(f"\nTraining {config.layers()} on {len(data.train_images):,} images: {config.settings()}.")
    saved_epoch = first_epoch
    try:
        for epoch in range(first_epoch + 1, config.epochs + 1):
            started = time.perf_counter()
            rng = np.random.default_rng([config.seed, epoch])  # depends only on (seed, epoch): resuming repeats it
            with progress_bar(epoch, config.epochs, len(data.train_images), config.batch_size) as progress:
                train_loss, train_acc = train.train_one_epoch(
                    model, loss_fn, optimizer, data.train_images, data.train_labels, config.batch_size, rng, progress)
            val_loss, val_acc, _ = train.evaluate(model, loss_fn, data.val_images, data.val_labels)
            if not np.isfinite(val_loss):
                raise train.Diverged(f"the validation loss became {val_loss}")
            for key, value in zip(checkpoint.HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc)):
                history[key].append(value)
            save(epoch)
            saved_epoch = epoch
            print(f"Epoch {epoch:>2}/{config.epochs}  train loss {train_loss:.4f} acc {train_acc:6.2%}  "
                  f"val loss {val_loss:.4f} acc {val_acc:6.2%}  {time.perf_counter() - started:.1f} s", flush=True)
    except KeyboardInterrupt:
        if saved_epoch:
            again = command if resume else f"{command} --resume"
            print(f"\nStopped: epoch {saved_epoch} is saved in {model_path}.\nContinue with:  {again}", file=sys.stderr)
        else:
            print("\nStopped before the first epoch finished: nothing was saved.", file=sys.stderr)
        raise
    except train.Diverged as why:
        kept = f" The last good epoch ({saved_epoch}) is kept in {model_path}." if saved_epoch else ""
        advice = f"Try a smaller learning rate, e.g. --lr {config.lr / 10:g}."
        raise KitError(f"Training diverged: {why}. {advice}{kept}") from None
    except Exception as error:
        if not raised_in(error, model_file):
            raise  # a bug in the kit itself: keep the traceback
        checks_command = f"python chapter03/{model_file.parent.name}/main.py --checks_only"
        raise KitError(f"{model_file.name} failed during training: {explain_exception(error, model_file)}\n"
                       f"Run  {checks_command}  to find the layer at fault.") from None

    test_loss, test_acc, probs = train.evaluate(model, loss_fn, data.test_images, data.test_labels)
    plots.save_confusion_matrix(data.test_labels, probs.argmax(axis=1), model_dir / "confusion.png")
    plots.save_worst_mistakes(data.test_images, data.test_labels, probs, model_dir / "mistakes.png")
    print(f"Model, loss curves, confusion matrix and mistakes saved in {model_dir}")
    print(f"Test accuracy: {test_acc * 100:.2f}%")


@contextmanager
def progress_bar(epoch, epochs, count, batch_size):
    """A tqdm bar over the batches of one epoch, on a terminal only; yields progress(batches_done, loss, acc)."""
    from tqdm import tqdm

    with tqdm(total=-(-count // batch_size), desc=f"Epoch {epoch}/{epochs}", unit="batch", leave=False,
              disable=not sys.stderr.isatty(), mininterval=0.2) as bar:

        def progress(batches_done, loss, acc):
            bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.2%}", refresh=False)
            bar.update(batches_done - bar.n)

        yield progress
