"""How fast is training? Prints the time of one epoch, the matrix-multiply floor, and their ratio.

The floor is the time of just the matrix products one epoch needs at these shapes (forward x @ W, dW = x.T @ dY for
every layer, dX = dY @ W.T for every layer but the first, whose input gradient nobody needs), measured in this
process. With --full it also times the whole default run of main.py (checks, data, training, test) and its peak memory.

    python benchmarks/bench_train.py --data_dir ../shared/mnist [--epochs 3] [--full]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`

from chapter03.common import data, train  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

SIZES = [784, 256, 128, 10]
BATCH = 64


def gemm_floor(batches, rng):
    """Seconds for the matrix products of `batches` training steps of the default MLP."""
    weights = [rng.standard_normal((n_in, n_out), dtype=np.float32) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    activations = [rng.standard_normal((BATCH, n), dtype=np.float32) for n in SIZES]
    started = time.perf_counter()
    for _ in range(batches):
        for i, weight in enumerate(weights):
            activations[i] @ weight  # forward
            activations[i].T @ activations[i + 1]  # dW
            if i > 0:
                activations[i + 1] @ weight.T  # dX
    return time.perf_counter() - started


def epoch_and_floor(mnist, epochs):
    """Best epoch time of the reference model and best floor, measured in turns so that both meet the same machine.

    Returns (epoch seconds, floor seconds, training accuracy of the last epoch).
    """
    model_module = load_model_module(REPO / "chapter03" / "solution" / "model.py")
    model = model_module.MLP(784, SIZES[1:-1], 10, rng=np.random.default_rng(0))
    optimizer = train.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = model_module.CrossEntropyLoss()
    batches = -(-len(mnist.train_images) // BATCH)
    best_epoch = best_floor = float("inf")
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        _, accuracy = train.train_one_epoch(model, loss_fn, optimizer, mnist.train_images, mnist.train_labels, BATCH,
                                            np.random.default_rng([0, epoch]))
        best_epoch = min(best_epoch, time.perf_counter() - started)
        best_floor = min(best_floor, gemm_floor(batches, np.random.default_rng(epoch)))
    return best_epoch, best_floor, accuracy


def full_run(data_dir):
    """Wall-clock seconds and peak resident memory (MB) of the default run of main.py, in a child process."""
    with tempfile.TemporaryDirectory() as model_dir:
        command = [sys.executable, str(REPO / "chapter03" / "solution" / "main.py"),
                   "--data_dir", str(data_dir), "--model_dir", model_dir]
        started = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"main.py failed ({finished.returncode}):\n{finished.stderr[-2000:]}")
    try:
        import resource  # Unix only
    except ImportError:
        return seconds, float("nan"), finished.stdout.strip().splitlines()[-1]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
    return seconds, peak_mb, finished.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--epochs", type=int, default=5, help="epochs to time, each followed by a floor measurement "
                        "(the best of each counts)")
    parser.add_argument("--full", action="store_true", help="also time the whole default run of main.py")
    args = parser.parse_args()

    mnist = data.load_mnist(args.data_dir)
    batches = -(-len(mnist.train_images) // BATCH)
    print(f"{os.cpu_count()} cores, numpy {np.__version__}, {batches} batches of {BATCH} per epoch")
    seconds, floor, accuracy = epoch_and_floor(mnist, args.epochs)
    print(f"epoch (best of {args.epochs}):  {seconds:.3f} s   (training accuracy {accuracy:.2%})")
    print(f"matrix-multiply floor:  {floor:.3f} s   (best of {args.epochs})")
    print(f"ratio:                  {seconds / floor:.2f}x")
    if args.full:
        seconds, peak_mb, last_line = full_run(args.data_dir)
        print(f"default run of main.py: {seconds:.1f} s wall clock, peak memory {peak_mb:.0f} MB, '{last_line}'")


if __name__ == "__main__":
    main()
