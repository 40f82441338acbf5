"""How fast is training, on a quiet machine and on a busy one? Epoch times, the threads chosen, the floor, ratios.

Prints, for a quiet machine and then beside two CPU-bound programs it starts itself (a busy laptop), with NumPy's
matrix products in blas_threads(--blas_threads) as main.py has them (default 0: chosen by timing the batches,
coursekit/blas.py):
- the thread counts the training chose (the share of the batches at each), and the time of one epoch of the
  default network;
- the matrix-multiply floor at each thread count: the time of just the matrix products of one epoch (forward
  x @ W, dW = x.T @ dY for every layer, dX = dY @ W.T for every layer but the first, as training skips that one);
- the ratios: epoch / the best floor, busy / quiet; and, quiet, the epoch with the first layer's input gradient
  (skip_input_gradient=False), which the training leaves out.
With --full, the whole default run of solution/main.py (checks, data, training, test) of this tree and of an
earlier commit (checked out with `git worktree` in a temporary folder, removed afterwards), in turns, each with a
temporary --model_dir and a copy of --data_dir: wall clock, peak memory, the last line, and the ratio.

    python benchmarks/bench_train.py --data_dir ../shared/mnist [--epochs 3] [--full [--baseline COMMIT]]
"""

import argparse
import collections
import os
import platform
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
from coursekit import blas  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

SIZES = [784, 256, 128, 10]
BATCH = 64
HOGS = 2  # CPU-bound programs beside the busy measurement: as many as the course's laptops have cores
# A hog stops by itself after this many seconds, should this script be killed before it stops them.
HOG_SECONDS = 600
HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
RUN_TIMEOUT = 1800  # seconds for one default run of main.py (the old code on a busy machine is slow)
BASELINE = "d0cc85b"  # the commit before the thread counts were chosen by measuring
FLOOR_BATCHES = 300  # the floor of an epoch is timed on this many batches, and scaled


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


@contextmanager
def threads_counted(used):
    """Inside the block, train_one_epoch's batches are counted in `used`, by the thread count they ran at."""
    now = {"threads": blas.chooser.chosen if blas.chooser else blas_threads_now()}
    if blas.chooser:
        use = blas.chooser.use
        blas.chooser.use = lambda threads: (now.update(threads=threads), use(threads))

    def fastest_threads(batches):
        for batch in blas.fastest_threads(batches):
            yield batch
            used[now["threads"]] += 1

    train.fastest_threads, real = fastest_threads, train.fastest_threads
    try:
        yield
    finally:
        train.fastest_threads = real


def blas_threads_now():
    from threadpoolctl import threadpool_info
    return max([pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"], default=1)


def measure(mnist, epochs, threads, with_dx=False):
    """`epochs` epochs of the reference model inside blas_threads(threads), as a run has them, each followed by the
    floor at every candidate thread count, in turns so that all meet the same machine. Returns (times, batches run
    at each thread count, last training accuracy); times: {"epoch": [...], "epoch+dx": [...] (with_dx), and a thread
    count: [...] for each floor}, each time a pair (wall clock, CPU)."""
    model_module = load_model_module(REPO / "chapter03" / "solution" / "model.py")
    model = model_module.MLP(784, SIZES[1:-1], 10, rng=np.random.default_rng(0))
    optimizer = train.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = model_module.CrossEntropyLoss()
    batches = -(-len(mnist.train_images) // BATCH)
    times, used = collections.defaultdict(list), collections.Counter()
    with blas.blas_threads(threads), threads_counted(used):
        counts = blas.chooser.candidates if blas.chooser else [blas_threads_now()]
        for epoch in range(1, epochs + 1):
            for skip in (True, False) if with_dx else (True,):
                started = Clock()
                _, accuracy = train.train_one_epoch(model, loss_fn, optimizer, mnist.train_images,
                                                    mnist.train_labels, BATCH, np.random.default_rng([0, epoch]),
                                                    skip_input_gradient=skip)
                times["epoch" if skip else "epoch+dx"].append(started.elapsed())
            for count in counts:
                with blas.blas_threads(count):
                    wall, cpu = gemm_floor(FLOOR_BATCHES, np.random.default_rng(epoch))
                    times[count].append((wall * batches / FLOOR_BATCHES, cpu * batches / FLOOR_BATCHES))
    return times, used, accuracy


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
    """The default run of this tree and of `baseline`, `turns` times each, alternating, on a copy of data_dir;
    prints the best of each and their ratio."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", baseline], capture_output=True,
                            text=True, check=True).stdout.strip()
    with worktree(baseline) as old_repo, tempfile.TemporaryDirectory() as copy:
        data_copy = Path(copy) / "mnist"
        shutil.copytree(data_dir, data_copy)
        runs = {"this tree": [], f"commit {commit}": []}
        for _ in range(turns):
            runs[f"commit {commit}"].append(default_run(old_repo, data_copy))
            runs["this tree"].append(default_run(REPO, data_copy))
    best = {name: min(results) for name, results in runs.items()}
    for name, (seconds, peak_mb, last_line) in best.items():
        every = ", ".join(f"{run[0]:.1f}" for run in runs[name])
        print(f"default run of main.py, {name + ':':<16} {seconds:6.1f} s (best of {every}), peak memory "
              f"{peak_mb:.0f} MB, '{last_line}'")
    print(f"default run, this tree / commit {commit}: {best['this tree'][0] / best[f'commit {commit}'][0]:.2f}x the "
          f"time (the aim: at most 0.6x where two threads beat one on a quiet machine)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time on the quiet and on the busy machine, "
                        "each followed by the floors (the best of each counts; default: 3)")
    parser.add_argument("--blas_threads", type=int, default=blas.DEFAULT_THREADS,
                        help=f"as main.py's flag (default: {blas.DEFAULT_THREADS}, chosen by timing the batches)")
    parser.add_argument("--full", action="store_true", help="also time the whole default run of main.py, of this "
                        "tree and of --baseline")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit --full compares with (default: {BASELINE})")
    parser.add_argument("--turns", type=int, default=2, help="default runs of each tree with --full (default: 2)")
    args = parser.parse_args()

    mnist = data.load_mnist(args.data_dir)
    print(f"{cpu_name()}, {os.cpu_count()} cores; numpy {np.__version__}, BLAS {blas_kernel()}; "
          f"{-(-len(mnist.train_images) // BATCH)} batches of {BATCH} an epoch; --blas_threads {args.blas_threads}; "
          f"load average {load_average()}")
    quiet, quiet_used, accuracy = measure(mnist, args.epochs, args.blas_threads, with_dx=True)
    with cpu_hogs(HOGS):
        busy, busy_used, _ = measure(mnist, args.epochs, args.blas_threads)
    print(f"best of {args.epochs}, in seconds (wall clock, CPU in brackets):")
    quiet_epoch = show("quiet", quiet, quiet_used)
    busy_epoch = show(f"beside {HOGS} busy programs", busy, busy_used)
    print(f"  busy / quiet: {busy_epoch[0] / quiet_epoch[0]:.2f}x (the aim: at most 1.5x);  quiet, with the first "
          f"layer's input gradient: epoch {min(quiet['epoch+dx'])[0]:.3f} s, "
          f"{min(quiet['epoch+dx'])[0] / quiet_epoch[0]:.2f}x;  training accuracy {accuracy:.2%}")
    if args.full:
        compare_full_runs(args.data_dir, args.baseline, args.turns)


def show(name, times, used):
    """Print the threads chosen, the best epoch, the floors and the ratio; returns the best epoch (wall, CPU)."""
    epoch = min(times["epoch"])
    floors = {count: min(times[count]) for count in times if isinstance(count, int)}
    best = min(floors, key=lambda count: floors[count][0])
    total = sum(used.values())
    chosen = ", ".join(f"{count} ({n / total:.0%})" for count, n in sorted(used.items(), key=lambda item: -item[1]))
    floor_text = ", ".join(f"{count} thread{'s' if count > 1 else ''} {floor[0]:.3f} ({floor[1]:.3f})"
                           for count, floor in sorted(floors.items()))
    print(f"  {name}: threads chosen (share of the batches) {chosen}\n"
          f"    epoch {epoch[0]:.3f} ({epoch[1]:.3f});  matrix-multiply floor at {floor_text}\n"
          f"    epoch / the best floor ({best}): {epoch[0] / floors[best][0]:.2f}x"
          + (" (the aim: at most 1.6x)" if name == "quiet" else ""))
    return epoch


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine()


def blas_kernel():
    from threadpoolctl import threadpool_info
    return "; ".join(f"{pool['internal_api']} {pool['version']} {pool.get('architecture') or ''}, "
                     f"{pool['num_threads']} threads" for pool in threadpool_info() if pool["user_api"] == "blas")


def load_average():
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except (AttributeError, OSError):  # Windows
        return "unknown"


if __name__ == "__main__":
    main()
