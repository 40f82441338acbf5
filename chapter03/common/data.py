"""MNIST: ensure_mnist() verifies every copy (the SHA-256 of its decompressed bytes, 0.2 s for all four) and downloads
what is missing or wrong (download.py); load_mnist() hashes the bytes again as it parses them. The four files:
train-images-idx3-ubyte (60,000 images of 28 x 28 bytes, 0 = white, 255 = black), train-labels-idx1-ubyte (60,000
labels, 0 to 9), t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (10,000 of each, for the test)."""

import collections
import hashlib
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.files import replace_file, temporary_name
from coursekit.i18n import say

from .download import (
    FILES,
    GZIP_MAGIC,
    PUBLISHED_SHA256,
    decompressed,
    download_missing,
    identify,
    nothing_worked_message,
)

VALIDATION_SIZE = 5000  # the last 5,000 training images; the network never trains on them

Mnist = collections.namedtuple(
    "Mnist", ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"]
)


# ---------------------------------------------------------------------------------------------------- ensure


def ensure_mnist(data_dir, mirrors, timeout=(10, 30), checksums=PUBLISHED_SHA256):
    """Make sure the four files are in data_dir (created if needed) and verified, downloading what is missing from
    the mirrors, in order. timeout: (connect, read) in seconds; checksums: the SHA-256 of each decompressed file (the
    tests pass their own). A copy that fails verification is removed. KitError when a file could not be obtained:
    the message says what was tried and how to put the files in place by hand."""
    try:
        data_dir = Path(data_dir).resolve()  # Python < 3.13 raises RuntimeError for a symbolic link loop
        data_dir.mkdir(parents=True, exist_ok=True)
        good = check_copies(data_dir, checksums)
        missing = [name for name in FILES if name not in good]
        failures, hints = download_missing(missing, data_dir, mirrors, timeout, checksums) if missing else ([], [])
    except (OSError, RuntimeError) as exc:  # the mirrors' errors are handled one by one: this is the local disk
        raise KitError(say(f"Cannot use the data folder {data_dir}: {exc}. Choose another --data_dir.",
                           f"无法使用数据文件夹 {data_dir}：{exc}。请换一个 --data_dir。")) from None
    still_missing = [name for name in FILES if not any(data_dir.joinpath(name + gz).is_file() for gz in ("", ".gz"))]
    if still_missing:
        raise KitError(nothing_worked_message(data_dir, still_missing, failures, hints))


def check_copies(data_dir, checksums):
    """Verify the copies in data_dir (`name` and `name.gz` of each of FILES, and files a renaming left); returns the
    names that have a good copy. A copy that is not an MNIST file is removed; one holding another of the four files
    (names swapped by hand) is renamed to the name of what it holds, never removed."""
    good, misnamed = set(), []
    candidates = [data_dir / (name + ending) for name in FILES for ending in ("", ".gz")]
    for path in candidates + sorted(data_dir.glob("*.renaming")):
        if not path.is_file():
            continue
        holds, problem = identify(path.read_bytes(), checksums)
        if path in candidates and holds == path.name.replace(".gz", ""):
            good.add(holds)
        elif holds is None:
            path.unlink()
            print(say(f"Removed {path}: {problem}.", f"已删除 {path}：{problem}。"), file=sys.stderr)
        else:
            misnamed.append((path, holds))
    return good | rename_to_what_they_hold(data_dir, misnamed, good)


def rename_to_what_they_hold(data_dir, misnamed, good):
    """Give each (path, name of the file it holds) its right name; returns the names given. Two steps, so that swapped
    names are swapped back: each is first moved to a temporary name (.renaming, which a next run picks up if this one
    is stopped in between), then to its own. One whose name already has a good copy is a duplicate: removed."""
    moved = []
    for path, holds in misnamed:
        tmp = path if path.suffix == ".renaming" else temporary_name(path, ".renaming")
        replace_file(path, tmp)
        moved.append((path, tmp, holds))
    for path, tmp, holds in moved:
        if holds in good:
            tmp.unlink()
            print(say(f"Removed {path}: it holds {holds}, a copy of which is already there.",
                      f"已删除 {path}：它装的是 {holds}，而那个文件已经有一份了。"), file=sys.stderr)
            continue
        with open(tmp, "rb") as file:
            target = data_dir / (holds + ".gz" if file.read(2) == GZIP_MAGIC else holds)
        replace_file(tmp, target)
        good.add(holds)
        print(say(f"Renamed {path.name} to {target.name}: that is the file it holds.",
                  f"已把 {path.name} 改名为 {target.name}：它装的就是这个文件。"), file=sys.stderr)
    return good


# ---------------------------------------------------------------------------------------------------- load


def load_mnist(data_dir, checksums=PUBLISHED_SHA256):
    """Load the four files from data_dir (run ensure_mnist first) into an Mnist tuple:

    train_images (55000, 784) uint8   train_labels (55000,) int64   the first 55,000 of the training file
    val_images    (5000, 784) uint8   val_labels    (5000,) int64   its last 5,000
    test_images  (10000, 784) uint8   test_labels  (10000,) int64   the test file

    Pixels stay bytes (0 to 255; float32 would take 220 MB): divide a batch by 255 when you use it. The image arrays
    are read-only. KitError naming the file when one is missing or has changed since it was verified.
    """
    train_images, train_labels, test_images, test_labels = (read_idx(Path(data_dir), name, checksums) for name in FILES)
    split = len(train_images) - VALIDATION_SIZE
    return Mnist(
        train_images[:split], train_labels[:split], train_images[split:], train_labels[split:], test_images, test_labels
    )


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
    count = struct.unpack(">I", contents[4:8])[0]
    values = np.frombuffer(contents, dtype=np.uint8, offset=4 + 4 * dims)
    return values.reshape(count, 28 * 28) if dims == 3 else values.astype(np.int64)
