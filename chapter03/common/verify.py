"""MNIST's four files, their published checksums, and how a copy is verified and remembered as verified.

A file counts only when the SHA-256 of its decompressed bytes is the published one. What was checked (size,
modification time, SHA-256) is written into a small stamp file in the data folder, so later runs compare size and
time only.
"""

import hashlib
import json
import struct
import zlib

from coursekit.errors import KitError
from coursekit.files import write_atomically

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# SHA-256 of the decompressed files, as published (the .gz bytes differ between mirrors, their contents do not).
PUBLISHED_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
STAMP_NAME = ".mnist-verified.json"
GZIP_MAGIC = b"\x1f\x8b"


def identify(blob, checksums):
    """(name, None) when blob (a file as stored: gzip-compressed or not) holds the file `name` of checksums;
    (None, why not) otherwise."""
    try:
        contents = decompressed(blob)
    except zlib.error as exc:
        return None, f"not a complete gzip file ({exc})"
    if contents[:3] != b"\x00\x00\x08":
        return None, "not an MNIST file (a server may have sent an error or login page instead)"
    sha = hashlib.sha256(contents).hexdigest()
    for name, expected in checksums.items():
        if sha == expected:
            return name, None
    return None, "its contents differ from the published MNIST files (SHA-256 mismatch)"


def verification_problem(blob, expected_sha):
    """None when blob (a file as stored: gzip-compressed or not) holds the expected contents; else why not."""
    return identify(blob, {"expected": expected_sha})[1]


def decompressed(blob):
    """The IDX bytes inside blob: gzip layers are peeled off (none if stored uncompressed; a misconfigured server
    may even add a second one). IDX files start with two zero bytes, never with the gzip magic number 1f 8b."""
    while blob[:2] == GZIP_MAGIC:
        blob = gunzip(blob)
    return blob


def gunzip(blob):
    """Decompress a gzip file of one member (as MNIST's are); raises zlib.error if it is damaged or cut short.

    Its last 4 bytes hold the decompressed size: an output buffer of that size from the start keeps one copy of
    the 47 MB of training images in memory instead of two while a growing buffer is copied (capped, should the
    file be damaged)."""
    size = struct.unpack("<I", blob[-4:])[0] if len(blob) >= 4 else 1
    return zlib.decompress(blob, wbits=31, bufsize=min(max(size, 1), 64 * 2**20))


def read_stamp(data_dir):
    """{file name: {"size", "mtime_ns", "sha256"}} of the files verified by an earlier run; {} if there is none."""
    try:
        stamp = json.loads((data_dir / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no stamp yet, or a damaged one: every file is simply checked again
        return {}
    return stamp if isinstance(stamp, dict) else {}


def stamp_matches(stamp, path, expected_sha):
    """True when path was verified against expected_sha and has not changed since (same size and time)."""
    status = path.stat()
    return stamp.get(path.name) == {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": expected_sha}


def record_in_stamp(stamp, path, expected_sha):
    status = path.stat()
    stamp[path.name] = {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": expected_sha}


def write_stamp(data_dir, stamp):
    """Save the stamp atomically. A read-only data folder still works: its files are just checked every run."""
    text = json.dumps(stamp, indent=1, sort_keys=True).encode("utf-8")
    try:
        write_atomically(data_dir / STAMP_NAME, lambda file: file.write(text))
    except KitError:
        pass  # the stamp only saves time; without it the files are verified again next run
