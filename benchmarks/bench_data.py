"""How long does the data stage take when MNIST is already on disk? Prints seconds per step; the issue asks that
loading all four files take well under 2 s.

The files of --data_dir are copied into a fresh temporary folder, then ensure_mnist verifies every file (decompress +
SHA-256) and load_mnist decompresses, hashes the same bytes again and parses them.

    python benchmarks/bench_data.py [--data_dir ../shared/mnist] [--repeat 3]
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`

from chapter03.common import data  # noqa: E402

NO_MIRRORS = []  # the files are all there: a download attempt would be a bug, and fail loudly


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def one_round(source):
    """(verify, load) in seconds, in a fresh copy of source."""
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        for name in data.FILES:
            for stored in (source / name, source / (name + ".gz")):
                if stored.is_file():
                    shutil.copy2(stored, data_dir / stored.name)
        verify, _ = timed(data.ensure_mnist, data_dir, NO_MIRRORS)
        load, mnist = timed(data.load_mnist, data_dir)
        assert mnist.train_images.shape == (55000, 784)
    return verify, load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO.parent / "shared" / "mnist")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round(args.data_dir) for _ in range(args.repeat)]
    best = [min(times) for times in zip(*rounds)]
    print(f"MNIST from {args.data_dir}, best of {args.repeat}:")
    print(f"  verify {best[0]:.3f} s + load {best[1]:.3f} s = {best[0] + best[1]:.3f} s")


if __name__ == "__main__":
    main()
