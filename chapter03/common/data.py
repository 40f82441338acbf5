"""MNIST: ensure_mnist() verifies every copy (the SHA-256 of its decompressed bytes, 0.2 s for all four) and downloads
what is missing or wrong (download.py); load_mnist() hashes the bytes again as it parses them."""

import collections
import hashlib
import sys
import zlib
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.i18n import say

from .download import FILES, PUBLISHED_SHA256, decompressed, download_missing, problem_with

VALIDATION_SIZE = 5000  # the last 5,000 training images; the network never trains on them

Mnist = collections.namedtuple("Mnist", "train_images train_labels val_images val_labels test_images test_labels")


def ensure_mnist(data_dir, mirrors, timeout=(10, 30), checksums=PUBLISHED_SHA256):
    """The four files verified in data_dir (created if needed), what is missing downloaded from the mirrors, in order.
    timeout: (connect, read) in seconds; checksums: of each decompressed file (the tests pass their own)."""
    try:
        data_dir = Path(data_dir).resolve()  # Python < 3.13 raises RuntimeError for a symbolic link loop
        data_dir.mkdir(parents=True, exist_ok=True)
        missing = [name for name in FILES if not has_good_copy(data_dir, name, checksums)]
        if missing:
            download_missing(missing, data_dir, mirrors, timeout, checksums)
    except (OSError, RuntimeError) as exc:  # the mirrors' errors are handled one by one: this is the local disk
        raise KitError(say(f"Cannot use the data folder {data_dir}: {exc}. Choose another --data_dir.",
                           f"无法使用数据文件夹 {data_dir}：{exc}。请换一个 --data_dir。")) from None


def has_good_copy(data_dir, name, checksums):
    """Whether `name` or `name.gz` in data_dir holds the file; a copy that does not is removed (with a word why)."""
    problems = {path: problem_with(path.read_bytes(), name, checksums)
                for path in (data_dir / name, data_dir / (name + ".gz")) if path.is_file()}
    for path, problem in problems.items():
        if problem:
            path.unlink()
            print(say(f"Removed {path}: {problem}.", f"已删除 {path}：{problem}。"), file=sys.stderr)
    return None in problems.values()


def load_mnist(data_dir, checksums=PUBLISHED_SHA256):
    """Load the four files from data_dir (run ensure_mnist first) into an Mnist tuple:
    train_images (55000, 784) uint8   train_labels (55000,) int64   the first 55,000 of the training file
    val_images    (5000, 784) uint8   val_labels    (5000,) int64   its last 5,000
    test_images  (10000, 784) uint8   test_labels  (10000,) int64   the test file
    Pixels stay read-only bytes (0 = white to 255 = black; float32 would take 220 MB): divide a batch by 255 to use it.
    KitError naming the file when one is missing or has changed since it was verified."""
    train_images, train_labels, test_images, test_labels = (read_idx(Path(data_dir), name, checksums) for name in FILES)
    split = len(train_images) - VALIDATION_SIZE
    return Mnist(train_images[:split], train_labels[:split], train_images[split:], train_labels[split:],
                 test_images, test_labels)


def read_idx(data_dir, name, checksums):
    """One IDX file of unsigned bytes: images as (N, 784), labels as (N,) int64. Its bytes are the published ones
    (checked first), so its layout is known: magic number 00 00 08 D (08 = unsigned bytes, D = number of dimensions),
    D sizes as big-endian 32-bit integers, then the bytes."""
    path = next((path for path in (data_dir / name, data_dir / (name + ".gz")) if path.is_file()), None)
    if path is None:
        raise KitError(say(f"{name}.gz is not in {data_dir}. Run main.py --download_only to download it.",
                           f"{data_dir} 里没有 {name}.gz。运行 main.py --download_only 下载它。"))
    again = say(f"Delete {path.name} and run again to download a fresh copy.",
                f"删除 {path.name} 后再运行，程序会重新下载。")
    try:
        contents = decompressed(path.read_bytes())
    except (OSError, zlib.error) as exc:
        raise KitError(say(f"Cannot read {path} ({exc}). {again}", f"无法读取 {path}（{exc}）。{again}")) from None
    if hashlib.sha256(contents).hexdigest() != checksums[name]:
        raise KitError(say(f"{path} has changed since it was verified (SHA-256 mismatch). {again}",
                           f"{path} 在校验之后被改动过（SHA-256 不符）。{again}"))
    dims = contents[3]
    values = np.frombuffer(contents, dtype=np.uint8, offset=4 + 4 * dims)
    return values.reshape(-1, 28 * 28) if dims == 3 else values.astype(np.int64)
