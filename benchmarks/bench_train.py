"""How fast is training, on a quiet machine and on a busy one? Epoch times, the matrix-multiply floor, their ratios.

Prints, with NumPy's matrix products limited to --blas_threads threads (as main.py does, coursekit/blas.py):
- the time of one epoch of the default network, on a quiet machine and then beside two CPU-bound programs (a busy
  laptop), and the busy/quiet ratio;
- the matrix-multiply floor: the time of just the matrix products one epoch needs at these shapes (forward x @ W,
  dW = x.T @ dY for every layer, dX = dY @ W.T for every layer but the first), with the same threads, and the ratio
  of the epoch to it. The first layer's input gradient is not needed, but Linear.backward computes it (its contract),
  so the floor with it is printed too.
With --full, the whole default run of main.py (checks, data, training, test) of this tree and of an earlier commit
(checked out with `git worktree` in a temporary folder, removed afterwards), in turns: wall clock, peak memory,
test accuracy, and how many times faster this tree is.

    python benchmarks/bench_train.py --data_dir ../shared/mnist [--epochs 3] [--full [--baseline COMMIT]]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`

from chapter03.common import data, train  # noqa: E402
from coursekit.blas import DEFAULT_THREADS, blas_threads  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

SIZES = [784, 256, 128, 10]
BATCH = 64
HOGS = 2  # CPU-bound programs beside the busy measurement: as many as the course's laptops have cores
# A hog stops by itself after this many seconds, should this script be killed before it stops them.
HOG_SECONDS = 600
HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
RUN_TIMEOUT = 1800  # seconds for one default run of main.py (the old code on a busy machine is slow)


def gemm_floor(batches, rng, first_dx=False):
    """Seconds (wall clock, CPU) for the matrix products of `batches` training steps of the default MLP (with the
    first layer's dX when first_dx)."""
    weights = [rng.standard_normal((n_in, n_out), dtype=np.float32) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    activations = [rng.standard_normal((BATCH, n), dtype=np.float32) for n in SIZES]
    started = Clock()
    for _ in range(batches):
        for i, weight in enumerate(weights):
            activations[i] @ weight  # forward
            activations[i].T @ activations[i + 1]  # dW
            if i > 0 or first_dx:
                activations[i + 1] @ weight.T  # dX
    return started.elapsed()


class Clock:
    """Wall-clock and CPU time since it was made. On a machine other programs share, the CPU time of one thread is
    what the work costs; the wall clock adds the waiting for a core."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def epoch_times(mnist, epochs):
    """Times of `epochs` epochs of the reference model, each followed by the two floors, measured in turns so that
    all three meet the same machine. Returns ({"epoch": [...], "floor": [...], "floor+dx": [...]}, last accuracy),
    each time a pair (wall clock, CPU)."""
    model_module = load_model_module(REPO / "chapter03" / "solution" / "model.py")
    model = model_module.MLP(784, SIZES[1:-1], 10, rng=np.random.default_rng(0))
    optimizer = train.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = model_module.CrossEntropyLoss()
    batches = -(-len(mnist.train_images) // BATCH)
    times = {"epoch": [], "floor": [], "floor+dx": []}
    for epoch in range(1, epochs + 1):
        started = Clock()
        _, accuracy = train.train_one_epoch(model, loss_fn, optimizer, mnist.train_images, mnist.train_labels, BATCH,
                                            np.random.default_rng([0, epoch]), skip_input_gradient=True)
        times["epoch"].append(started.elapsed())
        times["floor"].append(gemm_floor(batches, np.random.default_rng(epoch)))
        times["floor+dx"].append(gemm_floor(batches, np.random.default_rng(epoch), first_dx=True))
    return times, accuracy


@contextmanager
def cpu_hogs(count):
    """`count` CPU-bound Python processes running inside the block; always stopped when it ends."""
    hogs = []
    try:
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", HOG.format(seconds=HOG_SECONDS)]))
        time.sleep(0.2)  # let them start spinning
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def run_child(command):
    """Run command; (wall-clock seconds, peak resident memory in MB or nan, stdout, stderr, exit status)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak_mb = float("nan")
        if hasattr(os, "wait4"):  # Unix: the child's own peak memory
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    child.kill()
                    pid, status, usage = os.wait4(child.pid, 0)
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
        else:
            child.wait(timeout=RUN_TIMEOUT)
            seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return (seconds, peak_mb, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                child.returncode)


def default_run(repo, data_dir):
    """(seconds, peak MB, last line) of the default run of repo's solution/main.py, in a child process."""
    with tempfile.TemporaryDirectory() as model_dir:
        seconds, peak_mb, stdout, stderr, status = run_child(
            [sys.executable, str(Path(repo) / "chapter03" / "solution" / "main.py"), "--data_dir", str(data_dir),
             "--model_dir", model_dir])
    if status != 0:
        sys.exit(f"{repo}: main.py failed ({status}):\n{stderr[-2000:]}")
    return seconds, peak_mb, stdout.strip().splitlines()[-1]


@contextmanager
def worktree(commit):
    """The repository at `commit`, checked out in a temporary folder (git worktree), removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="oldkit-"))
    folder.rmdir()  # git worktree wants to create it
    git = ["git", "-C", str(REPO)]
    subprocess.run([*git, "worktree", "add", "--detach", str(folder), commit], check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([*git, "worktree", "prune"], capture_output=True)


def compare_full_runs(data_dir, baseline, turns):
    """The default run of this tree and of `baseline`, `turns` times each, alternating; prints the best of each."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", baseline], capture_output=True,
                            text=True, check=True).stdout.strip()
    with worktree(baseline) as old_repo:
        runs = {"this tree": [], f"commit {commit}": []}
        for _ in range(turns):
            runs[f"commit {commit}"].append(default_run(old_repo, data_dir))
            runs["this tree"].append(default_run(REPO, data_dir))
    best = {name: min(results) for name, results in runs.items()}
    for name, (seconds, peak_mb, last_line) in best.items():
        every = ", ".join(f"{run[0]:.1f}" for run in runs[name])
        print(f"default run of main.py, {name + ':':<16} {seconds:6.1f} s (best of {every}), peak memory "
              f"{peak_mb:.0f} MB, '{last_line}'")
    print(f"this tree is {best[f'commit {commit}'][0] / best['this tree'][0]:.2f}x as fast as commit {commit}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--epochs", type=int, default=5, help="epochs to time on the quiet and on the busy machine, "
                        "each followed by the floors (the best of each counts)")
    parser.add_argument("--blas_threads", type=int, default=DEFAULT_THREADS,
                        help=f"threads of the matrix products, as main.py's flag (default: {DEFAULT_THREADS}; 0: the "
                             "BLAS library's own choice)")
    parser.add_argument("--full", action="store_true", help="also time the whole default run of main.py, of this "
                        "tree and of --baseline")
    parser.add_argument("--baseline", default="HEAD", help="the commit --full compares with (default: HEAD)")
    parser.add_argument("--turns", type=int, default=2, help="default runs of each tree with --full (default: 2)")
    args = parser.parse_args()

    mnist = data.load_mnist(args.data_dir)
    batches = -(-len(mnist.train_images) // BATCH)
    print(f"{os.cpu_count()} cores, numpy {np.__version__}, {batches} batches of {BATCH} per epoch, "
          f"--blas_threads {args.blas_threads}, load average {load_average()}")
    with blas_threads(args.blas_threads):
        quiet, accuracy = epoch_times(mnist, args.epochs)
        with cpu_hogs(HOGS):
            busy, _ = epoch_times(mnist, args.epochs)
    print(f"best of {args.epochs}, in seconds:                 wall clock   (CPU)   ratio")
    epoch = show("epoch, quiet", quiet["epoch"])
    show(f"epoch, beside {HOGS} busy programs", busy["epoch"], epoch, "busy / quiet")
    floor = show("matrix-multiply floor", quiet["floor"])
    show("floor with the first layer's dX", quiet["floor+dx"])
    print(f"epoch / floor: {epoch[0] / floor[0]:.2f}x wall clock, {epoch[1] / floor[1]:.2f}x CPU;  with the first "
          f"layer's dX: {epoch[0] / min(quiet['floor+dx'])[0]:.2f}x, {epoch[1] / min(quiet['floor+dx'])[1]:.2f}x;  "
          f"training accuracy {accuracy:.2%}")
    if args.full:
        compare_full_runs(args.data_dir, args.baseline, args.turns)


def show(name, times, compared_to=None, ratio_name=""):
    """Print the best of `times` (pairs wall clock, CPU) and its ratio to `compared_to`; returns the best pair."""
    best = min(times)
    ratio = f"   {ratio_name} {best[0] / compared_to[0]:.2f}x" if compared_to else ""
    print(f"  {name:<36} {best[0]:8.3f}   ({best[1]:.3f}){ratio}")
    return best


def load_average():
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except (AttributeError, OSError):  # Windows
        return "unknown"


if __name__ == "__main__":
    main()
