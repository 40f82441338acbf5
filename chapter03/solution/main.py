"""Check the layers in model.py, then train a multilayer perceptron on MNIST with them and test it: a run's recipe.

The same file in startup/ and solution/, each using the model.py beside it. Its flags: python main.py --help.
"""

import sys

# First, and in syntax even Python 2 reads, so that an older Python prints this one line rather than a traceback.
if sys.version_info < (3, 9):  # noqa: UP036 (ruff assumes the oldest supported Python; this line is for older ones)
    sys.exit("This course kit needs Python 3.9 or newer; this is Python " + sys.version.split()[0] + " ("
             + sys.executable + "). README.md, section 'Supported Python', says more.")

import time
from pathlib import Path

import numpy as np

TREE = Path(__file__).resolve().parent  # chapter03/startup or chapter03/solution
sys.path.insert(0, str(TREE.parents[1]))  # the repository root: `coursekit` and `chapter03.common`

from chapter03.common import checkpoint, cli, run, train  # noqa: E402
from coursekit.blas import blas_threads  # noqa: E402
from coursekit.errors import run_command  # noqa: E402
from coursekit.i18n import set_language  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402


def main(argv=None, tree=TREE):
    """One run: the checks, the data, the training, the test. Its exit status: 0 done, 1 stopped, saying why."""
    args = cli.parse_args(tree, argv)  # the flags: a bad one is a message and exit 2
    set_language(args.lang)  # every message of the run in one language, chosen once
    # 1. The checks: each layer of model.py against the formulas, values and gradients.
    model_file = tree / "model.py"
    model_py = load_model_module(model_file)
    checks_passed = args.download_only or run.check_layers(model_py, model_file, args)
    if args.checks_only or args.only or args.explain or not (checks_passed or args.skip_checks):
        return 0 if checks_passed else 1

    with blas_threads(args.blas_threads):  # how many threads NumPy's matrix products use
        # 2. The data: MNIST, downloaded and verified once: 55,000 digits to train on, 5,000 to check, 10,000 to test.
        mnist = run.load_data(args)
        if args.download_only:
            return 0

        # 3. The network, built from the classes of model.py (784 pixels in, 10 digits out), its loss, its optimizer.
        config = run.Config.from_args(args)
        network = model_py.MLP(784, list(config.hidden_dims), 10, rng=np.random.default_rng(config.seed))
        loss_fn = model_py.CrossEntropyLoss()
        optimizer = train.SGD(network.parameters(), config.lr, config.momentum)
        folder = checkpoint.ModelFolder(args.model_dir, cli.resume_command(tree.name, argv), args.resume)
        done, history = 0, {key: [] for key in checkpoint.HISTORY_KEYS}
        if args.resume:  # the weights, velocities and history saved
            done, history = folder.resume(network, optimizer, config)
        if done >= config.epochs:
            return 0  # a finished run resumed: folder.resume said there is nothing to do
        print(run.training_line(config, len(mnist.train_images)))

        # 4. Epoch after epoch: train, validate, save the checkpoint, update the plot, print the epoch's line.
        with run.stops_explained(folder, model_py, model_file, mnist, config, checks_passed):
            # The loss before training: after the first epoch, the validation loss must be below it.
            start_loss = None if done else train.evaluate(network, loss_fn, mnist.val_images, mnist.val_labels)[0]
            for epoch in range(done + 1, config.epochs + 1):
                started = time.perf_counter()
                shuffle = np.random.default_rng([config.seed, epoch])  # (seed, epoch) only: resuming repeats it
                with run.progress_bar(epoch, config, len(mnist.train_images)) as progress:
                    train_loss, train_acc = train.train_one_epoch(
                        network, loss_fn, optimizer, mnist.train_images, mnist.train_labels, config.batch_size, shuffle,
                        progress, skip_input_gradient=checks_passed)
                val_loss, val_acc, _ = train.evaluate(network, loss_fn, mnist.val_images, mnist.val_labels)
                run.stop_if_diverged(val_loss)
                for key, value in zip(checkpoint.HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc)):
                    history[key].append(value)
                folder.save(network, optimizer, config, epoch, history)  # model.npz, replaced atomically
                folder.plot(history)  # loss.png
                print(run.epoch_line(epoch, config.epochs, train_loss, train_acc, val_loss, val_acc,
                                     time.perf_counter() - started), flush=True)
                train.check_learning(epoch, val_loss, val_acc, start_loss, run.CLASSES)  # not learning: stop

        # 5. The test, on 10,000 digits the network has never seen.
        _, test_acc, probs = train.evaluate(network, loss_fn, mnist.test_images, mnist.test_labels)
        folder.save_test_pictures(mnist.test_images, mnist.test_labels, probs)  # confusion.png, mistakes.png
        print(run.test_accuracy_line(test_acc))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
