"""The command line of main.py. A run does, in order: checks, data, training, test.

Exit status: 0 success; 1 a failure explained in plain words; 2 a bad command line; 130 interrupted by Ctrl-C.
"""

import argparse
import os
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.student_code import explain_exception, load_model_module, raised_in

from . import checkpoint, data

REPO = Path(__file__).resolve().parents[2]
INPUT_DIM, CLASSES = 784, 10


def main(tree_dir, argv=None):
    """Run main.py of the tree in `tree_dir` (chapter03/startup or chapter03/solution); returns the exit status."""
    tree_dir = Path(tree_dir)
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(tree_dir, argv)
    args.command = " ".join([f"python chapter03/{tree_dir.name}/main.py", *map(shlex.quote, argv)])
    model_file = tree_dir / "model.py"
    try:
        model_module = load_model_module(model_file)
        if not args.download_only and not run_checks(model_module, model_file, args):
            return 1
        if args.checks_only:
            return 0
        data = load_data(args)
        if data is None:
            return 0
        run_training(model_module, model_file, data, args, tree_dir)
    except KitError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a program that stopped reading, e.g. `| head`
        sys.stdout = open(os.devnull, "w")  # so that Python's own final flush stays quiet
        return 1
    return 0


# ---------------------------------------------------------------- command line

def parse_args(tree_dir, argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python chapter03/{tree_dir.name}/main.py",
        description="Check the layers in model.py, then train a multilayer perceptron on MNIST and test it.",
        epilog="Hyphenated spellings (--batch-size) work too. Details: chapter03/README.md.",
        allow_abbrev=False,  # strict: a mistyped flag such as --epoch is an error, not a guess
    )

    def flag(name, **kwargs):
        parser.add_argument(f"--{name}", *([f"--{name.replace('_', '-')}"] if "_" in name else []), **kwargs)

    flag("hidden_dims", type=positive_int, nargs="+", default=[256, 128], metavar="N",
         help="hidden layer sizes (default: 256 128)")
    flag("lr", type=positive_float, default=0.01, metavar="F", help="learning rate (default: 0.01)")
    flag("batch_size", type=positive_int, default=64, metavar="N", help="mini-batch size (default: 64)")
    flag("epochs", type=positive_int, default=20, metavar="N", help="epochs (default: 20)")
    flag("momentum", type=momentum_value, default=0.95, metavar="F",
         help="SGD momentum in [0, 1); 0 is plain SGD as the handout derives it (default: 0.95)")
    flag("seed", type=non_negative_int, default=0, metavar="N", help="random seed: same seed, same run (default: 0)")
    flag("data_dir", type=Path, default=REPO / "data", metavar="P",
         help="where MNIST is looked for and downloaded to (default: <repo>/data)")
    flag("model_dir", type=Path, default=REPO / "model" / tree_dir.name, metavar="P",
         help=f"where checkpoints and plots go (default: <repo>/model/{tree_dir.name})")
    flag("mirror", action="append", default=[], metavar="URL",
         help="a base URL serving the four MNIST .gz files, tried before the built-in mirrors; repeatable; "
              "http(s):// or file://. The variable MNIST_MIRROR (URLs separated by spaces) does the same")
    flag("checks_only", action="store_true", help="run the correctness checks and exit")
    flag("skip_checks", action="store_true", help="train even though checks fail")
    flag("download_only", action="store_true", help="fetch and verify MNIST, then exit")
    flag("resume", action="store_true", help="continue from <model_dir>/model.npz")
    args = parser.parse_args(argv)
    try:
        args.mirrors = data.mirror_list(args.mirror)
    except KitError as error:
        parser.error(str(error))  # a bad URL is a bad command line: exit 2
    return args


def positive_int(text):
    return _number(text, int, lambda n: n >= 1, "a whole number >= 1")


def non_negative_int(text):
    return _number(text, int, lambda n: n >= 0, "a whole number >= 0")


def positive_float(text):
    return _number(text, float, lambda x: 0 < x < float("inf"), "a number > 0")


def momentum_value(text):
    return _number(text, float, lambda x: 0 <= x < 1, "a number in [0, 1)")


def _number(text, kind, is_valid, expected):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not is_valid(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


# ---------------------------------------------------------------- the stages

def run_checks(model_module, model_file, args):
    """Print the check report; True when training may go on."""
    from . import checks

    results = checks.run_checks(model_module, model_file)
    print(checks.format_report(results))
    if all(result.status == "pass" for result in results):
        return True
    if args.checks_only:
        return False
    if args.skip_checks:
        print("\n" + "!" * 70 + "\n!!  --skip_checks: training although the checks above FAIL.\n"
              "!!  Expect errors or a network that does not learn.\n" + "!" * 70 + "\n")
        return True
    print(f"\nFix the checks above in {model_file} first (or train anyway with --skip_checks).", file=sys.stderr)
    return False


def load_data(args):
    """Download and verify MNIST if needed, then load it; None after --download_only."""
    data.ensure_mnist(args.data_dir, args.mirrors)
    if args.download_only:
        print(f"MNIST is ready in {args.data_dir.resolve()}")
        return None
    return data.load_mnist(args.data_dir)


def run_training(model_module, model_file, data, args, tree_dir):
    """Train for args.epochs epochs (or what --resume leaves), saving after every epoch, then test."""
    from . import plots, train

    model_path = args.model_dir / "model.npz"
    model = model_module.MLP(INPUT_DIM, args.hidden_dims, CLASSES, rng=np.random.default_rng(args.seed))
    loss_fn = model_module.CrossEntropyLoss()
    optimizer = train.SGD(model.parameters(), args.lr, args.momentum)
    history = {key: [] for key in checkpoint.HISTORY_KEYS}
    first_epoch = 0
    if args.resume:
        first_epoch, history = resume(model, optimizer, model_path, args)
    loss_plot = plots.LossPlot()

    def save(epoch):
        checkpoint.save(model_path, model, optimizer.velocities, hidden_dims=args.hidden_dims,
                        input_mean=train.MNIST_MEAN, input_std=train.MNIST_STD, epoch=epoch, lr=args.lr,
                        momentum=args.momentum, batch_size=args.batch_size, seed=args.seed, history=history)
        try:
            loss_plot.update(history, args.model_dir / "loss.png")
        except KitError as error:  # e.g. an image viewer on Windows holds the file: not a reason to stop training
            print(f"Warning: {error}", file=sys.stderr)

    print(f"\nTraining {INPUT_DIM}-{'-'.join(map(str, args.hidden_dims))}-{CLASSES} on {len(data.train_images):,} "
          f"images: lr {args.lr}, momentum {args.momentum}, batch {args.batch_size}, {args.epochs} epochs.")
    saved_epoch = first_epoch
    try:
        for epoch in range(first_epoch + 1, args.epochs + 1):
            started = time.perf_counter()
            rng = np.random.default_rng([args.seed, epoch])  # depends only on (seed, epoch): resuming repeats it
            with progress_bar(epoch, args.epochs, len(data.train_images), args.batch_size) as progress:
                train_loss, train_acc = train.train_one_epoch(
                    model, loss_fn, optimizer, data.train_images, data.train_labels, args.batch_size, rng, progress)
            val_loss, val_acc, _ = train.evaluate(model, loss_fn, data.val_images, data.val_labels)
            if not np.isfinite(val_loss):
                raise train.Diverged(f"the validation loss became {val_loss}")
            for key, value in zip(checkpoint.HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc)):
                history[key].append(value)
            save(epoch)
            saved_epoch = epoch
            print(f"Epoch {epoch:>2}/{args.epochs}  train loss {train_loss:.4f} acc {train_acc:6.2%}  "
                  f"val loss {val_loss:.4f} acc {val_acc:6.2%}  {time.perf_counter() - started:.1f} s", flush=True)
    except KeyboardInterrupt:
        if saved_epoch:
            again = args.command if args.resume else f"{args.command} --resume"
            print(f"\nStopped: epoch {saved_epoch} is saved in {model_path}.\nContinue with:  {again}", file=sys.stderr)
        else:
            print("\nStopped before the first epoch finished: nothing was saved.", file=sys.stderr)
        raise
    except train.Diverged as why:
        kept = f" The last good epoch ({saved_epoch}) is kept in {model_path}." if saved_epoch else ""
        advice = f"Try a smaller learning rate, e.g. --lr {args.lr / 10:g}."
        raise KitError(f"Training diverged: {why}. {advice}{kept}") from None
    except Exception as error:
        if not raised_in(error, model_file):
            raise  # a bug in the kit itself: keep the traceback
        checks_command = f"python chapter03/{tree_dir.name}/main.py --checks_only"
        raise KitError(f"{model_file.name} failed during training: {explain_exception(error, model_file)}\n"
                       f"Run  {checks_command}  to find the layer at fault.") from None

    test_loss, test_acc, probs = train.evaluate(model, loss_fn, data.test_images, data.test_labels)
    plots.save_confusion_matrix(data.test_labels, probs.argmax(axis=1), args.model_dir / "confusion.png")
    plots.save_worst_mistakes(data.test_images, data.test_labels, probs, args.model_dir / "mistakes.png")
    print(f"Model, loss curves, confusion matrix and mistakes saved in {args.model_dir}")
    print(f"Test accuracy: {test_acc * 100:.2f}%")


def resume(model, optimizer, model_path, args):
    """Load weights, optimizer state and history from model.npz into model and optimizer; returns (epoch, history)."""
    if not model_path.is_file():
        raise KitError(f"--resume: there is no {model_path} to continue from. Train once without --resume.")
    saved = checkpoint.load(model_path)
    saved_dims = [int(n) for n in saved["hidden_dims"]]
    if saved_dims != list(args.hidden_dims):
        raise KitError(f"--resume: {model_path} was trained with --hidden_dims {' '.join(map(str, saved_dims))}, "
                       f"not {' '.join(map(str, args.hidden_dims))}. Use the same sizes, or another --model_dir.")
    checkpoint.load_weights(model, saved)
    optimizer.velocities = [saved[f"velocity{i}"].astype(np.float32) for i in range(len(optimizer.parameters))]
    epoch = int(saved["epoch"])
    print(f"Resuming from {model_path}: {epoch} of {args.epochs} epochs done.")
    return epoch, {key: [float(v) for v in saved[key]] for key in checkpoint.HISTORY_KEYS}


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
