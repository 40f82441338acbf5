"""MNIST: find it, download it if needed, verify it, load it.

The four official files (IDX format, usually gzip-compressed):

    train-images-idx3-ubyte   60,000 images of 28 x 28 pixels, one byte each (0 = white, 255 = black)
    train-labels-idx1-ubyte   60,000 labels, one byte each (0 to 9)
    t10k-images-idx3-ubyte    10,000 test images
    t10k-labels-idx1-ubyte    10,000 test labels

A file counts only when the SHA-256 of its decompressed bytes is the published one, so a half-downloaded file, a
web page saved under the wrong name, or a file mangled by a proxy is caught here, with a clear message, and never
turns into a strange error later. Checking costs a decompression (about 0.3 s for the training images), so:

- ensure_mnist() checks each file once and writes what it checked (size, modification time, SHA-256) into a small
  stamp file, .mnist-verified.json, in the data folder; later runs compare size and time only (no reading).
- load_mnist() has to decompress the files anyway; it hashes the same bytes as it parses them (about 0.03 s), so
  a file that changed after it was checked is still caught.

Downloads are download.py's job, checksums and the stamp verify.py's. A copy found under another file's name (the
names swapped by hand) is renamed, never deleted.
"""

import collections
import hashlib
import math
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from coursekit.errors import KitError, interrupts_deferred
from coursekit.files import remove, temporary_name

from .download import download_missing, nothing_worked_message, say
from .verify import (
    FILES,
    GZIP_MAGIC,
    PUBLISHED_SHA256,
    STAMP_NAME,
    decompressed,
    identify,
    read_stamp,
    record_in_stamp,
    stamp_matches,
    write_stamp,
)

ABANDONED_AFTER = 3600  # seconds untouched after which a temporary file in the data folder is a killed run's
VALIDATION_SIZE = 5000  # the last 5,000 training images; the network never trains on them

Mnist = collections.namedtuple(
    "Mnist", ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"]
)


# ---------------------------------------------------------------------------------------------------- ensure


def ensure_mnist(data_dir, mirrors, timeout=(10, 30), checksums=PUBLISHED_SHA256):
    """Make sure the four files are in data_dir and verified, downloading what is missing; returns None.

    data_dir   the folder (created if needed); `name` or `name.gz` is accepted for each file
    mirrors    base URLs to try in order (see mirror_list)
    timeout    (connect, read) in seconds: how long to wait to connect, and for the next bytes to arrive
    checksums  the SHA-256 of each decompressed file, by name (the tests pass their own for synthetic files)

    A copy that fails verification is removed. Raises KitError when a file could not be obtained: the message
    says what was tried and how to put the files in place by hand.
    """
    data_dir = resolved_folder(data_dir)
    checked_before = read_stamp(data_dir)
    stamp = {}  # rewritten from scratch: only the copies verified (again) during this run
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        remove_abandoned_temporaries(data_dir)
        present = check_copies(data_dir, checksums, checked_before, stamp)
        missing = [name for name in FILES if name not in present]
        failures = download_missing(missing, data_dir, mirrors, timeout, checksums, stamp) if missing else []
    except OSError as exc:  # network errors are handled mirror by mirror; what reaches here is the local disk
        raise KitError(f"Cannot use the data folder {data_dir}: {exc}") from None
    finally:
        write_stamp(data_dir, stamp)  # even after Ctrl-C, so the files finished so far are not checked again
    still_missing = [name for name in FILES if name not in stamp and name + ".gz" not in stamp]
    if still_missing:
        raise KitError(nothing_worked_message(data_dir, still_missing, failures))


def resolved_folder(folder):
    """The absolute path of folder; KitError when it cannot be resolved (a symbolic link that points to itself)."""
    try:
        return Path(folder).resolve()
    except (OSError, RuntimeError) as exc:  # Python < 3.13 raises RuntimeError for a symlink loop
        raise KitError(f"Cannot use the data folder {folder}: {exc}. Fix the link, or choose another --data_dir.") \
            from None


def remove_abandoned_temporaries(data_dir):
    """Remove the temporary files of downloads (and stamps) left in data_dir by a run that was killed (SIGKILL, a
    power cut): those untouched for ABANDONED_AFTER seconds. A download in progress, perhaps another run's, writes to
    its file every few seconds, or gives up."""
    now = time.time()
    for path in data_dir.iterdir():
        ours = path.name.startswith((*FILES, STAMP_NAME)) and path.name.endswith((".part", ".renaming", ".tmp"))
        try:
            abandoned = ours and now - path.stat().st_mtime > ABANDONED_AFTER
        except OSError:  # gone meanwhile (its run finished), or unreadable: not ours to remove
            continue
        if abandoned:
            remove(path)


def check_copies(data_dir, checksums, checked_before, stamp):
    """Check the copies already in data_dir (`name` and `name.gz` for each of FILES) and record the good ones in
    stamp; returns the names of FILES that have a good copy. A copy the stamp of an earlier run vouches for,
    unchanged since, is not read again. A copy that is not an MNIST file is removed. A copy holding another of the
    four files (names swapped by hand) is renamed to the name of what it holds, never removed."""
    misnamed = []  # (path, the name of the file it holds)
    for name in FILES:
        for path in (data_dir / name, data_dir / (name + ".gz")):
            if not path.is_file():
                continue
            if stamp_matches(checked_before, path, checksums[name]):
                holds = name
            else:
                holds, problem = identify(path.read_bytes(), checksums)
                if holds is None:
                    path.unlink()
                    say(f"Removed {path}: {problem}.")
                    continue
            if holds == name:
                record_in_stamp(stamp, path, checksums[name])
            else:
                misnamed.append((path, holds))
    if misnamed:
        rename_to_what_they_hold(data_dir, misnamed, checksums, stamp)
    return {name.removesuffix(".gz") for name in stamp}


def rename_to_what_they_hold(data_dir, misnamed, checksums, stamp):
    """Give each (path, name it holds) its right name. Two steps, so that swapped names are swapped back: each is
    first moved to a temporary name, then to its own. One whose name already has a good copy is a duplicate of it
    and is removed. Ctrl-C waits for the renames (instants), so a file is never left under a temporary name."""
    with interrupts_deferred():
        moving = []
        for path, holds in misnamed:
            tmp = temporary_name(path, ".renaming")
            os.replace(path, tmp)
            moving.append((path, tmp, holds))
        for path, tmp, holds in moving:
            with open(tmp, "rb") as file:
                gzipped = file.read(2) == GZIP_MAGIC
            target = data_dir / (holds + ".gz" if gzipped else holds)
            if holds + ".gz" in stamp or holds in stamp:
                tmp.unlink()
                say(f"Removed {path}: it holds {holds}, a copy of which is already there.")
                continue
            os.replace(tmp, target)
            record_in_stamp(stamp, target, checksums[holds])
            say(f"Renamed {path.name} to {target.name}: that is the file it holds.")


# ---------------------------------------------------------------------------------------------------- stamp


# ---------------------------------------------------------------------------------------------------- download


# ---------------------------------------------------------------------------------------------------- load


def load_mnist(data_dir, checksums=PUBLISHED_SHA256):
    """Load the four files from data_dir (run ensure_mnist first) into an Mnist tuple:

    train_images (55000, 784) uint8   train_labels (55000,) int64   the first 55,000 of the training file
    val_images    (5000, 784) uint8   val_labels    (5000,) int64   its last 5,000
    test_images  (10000, 784) uint8   test_labels  (10000,) int64   the test file

    Pixels stay bytes (0 to 255) to save memory (float32 would take 220 MB): divide a batch by 255 when you use
    it. The image arrays are read-only views of the file's bytes; labels are 0 to 9.
    Raises KitError naming the file when one is missing, has changed since it was verified, or is malformed.
    """
    data_dir = Path(data_dir)
    train_images = read_idx(data_dir, "train-images-idx3-ubyte", checksums)
    train_labels = read_idx(data_dir, "train-labels-idx1-ubyte", checksums)
    test_images = read_idx(data_dir, "t10k-images-idx3-ubyte", checksums)
    test_labels = read_idx(data_dir, "t10k-labels-idx1-ubyte", checksums)
    check_pair(data_dir, "train", train_images, train_labels)
    check_pair(data_dir, "t10k", test_images, test_labels)
    if len(train_images) <= VALIDATION_SIZE:
        raise KitError(f"The training set in {data_dir} has only {len(train_images)} images; MNIST has 60,000.")
    split = len(train_images) - VALIDATION_SIZE
    return Mnist(
        train_images[:split], train_labels[:split], train_images[split:], train_labels[split:], test_images, test_labels
    )


def read_idx(data_dir, name, checksums):
    """Parse one IDX file of unsigned bytes: images as (N, 784), labels as (N,) int64.

    Layout: magic number 00 00 08 D (08 = unsigned bytes, D = number of dimensions), then D sizes as big-endian
    32-bit integers, then the product of the sizes in bytes, nothing more."""
    path = stored_copy(data_dir, name)
    try:
        blob = path.read_bytes()
        contents = decompressed(blob)
    except (OSError, zlib.error) as exc:
        raise KitError(f"Cannot read {path} ({exc}). {delete_and_rerun(path)}") from None
    dims = 3 if "images" in name else 1
    header_size = 4 + 4 * dims
    if len(contents) < header_size or contents[:4] != bytes([0, 0, 0x08, dims]):
        raise KitError(
            f"{path} is not an MNIST {'image' if dims == 3 else 'label'} file: it does not start with the IDX "
            f"magic number 0x0000080{dims}. {delete_and_rerun(path)}"
        )
    sizes = struct.unpack(f">{dims}I", contents[4:header_size])
    if dims == 3 and sizes[1:] != (28, 28):
        raise KitError(f"{path} holds images of {sizes[1]} x {sizes[2]} pixels; MNIST's are 28 x 28.")
    body_size = len(contents) - header_size
    if body_size != math.prod(sizes):
        raise KitError(
            f"{path} should hold {math.prod(sizes):,} bytes after its header (sizes {sizes}) but holds "
            f"{body_size:,}: it is truncated or corrupt. {delete_and_rerun(path)}"
        )
    if hashlib.sha256(contents).hexdigest() != checksums[name]:
        raise KitError(f"{path} has changed since it was verified (SHA-256 mismatch). {delete_and_rerun(path)}")
    values = np.frombuffer(contents, dtype=np.uint8, offset=header_size)
    if dims == 3:
        return values.reshape(sizes[0], 28 * 28)
    if values.size and values.max() > 9:
        raise KitError(f"{path} has a label {values.max()}; MNIST's labels are 0 to 9.")
    return values.astype(np.int64)


def stored_copy(data_dir, name):
    """The path of `name` in data_dir: the uncompressed copy if there is one (faster to read), else `name.gz`."""
    for path in (data_dir / name, data_dir / (name + ".gz")):
        if path.is_file():
            return path
    raise KitError(f"{name}.gz is not in {data_dir}. Run main.py --download_only to download it.")


def check_pair(data_dir, prefix, images, labels):
    if len(images) != len(labels):
        raise KitError(
            f"{data_dir} holds {len(images):,} {prefix} images but {len(labels):,} labels; they must match. "
            "Delete both files and run again."
        )


def delete_and_rerun(path):
    return f"Delete {path.name} and run again to download a fresh copy."
