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

Downloads try the mirrors in order (yours first, then BUILTIN_MIRRORS); any failure moves on to the next one.
Each file is written to a temporary name, verified, and only then renamed to its final name.
"""

import collections
import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import requests
import urllib3
from tqdm import tqdm

from coursekit.errors import KitError

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# SHA-256 of the decompressed files, as published (the .gz bytes differ between mirrors, their contents do not).
PUBLISHED_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Hosts that serve the official files today (the original yann.lecun.com no longer does).
BUILTIN_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
MIRROR_VARIABLE = "MNIST_MIRROR"
# Some hosts refuse requests without a User-Agent; "identity" asks servers not to compress what is already gzip.
HEADERS = {"User-Agent": "mnist-course-kit/1.0", "Accept-Encoding": "identity"}
RETRY_DELAYS = (1.0, 4.0)  # seconds to wait before the 2nd and the 3rd attempt of a download that broke off
CHUNK_SIZE = 64 * 1024
STAMP_NAME = ".mnist-verified.json"
GZIP_MAGIC = b"\x1f\x8b"
VALIDATION_SIZE = 5000  # the last 5,000 training images; the network never trains on them

Mnist = collections.namedtuple(
    "Mnist", ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"]
)


# ---------------------------------------------------------------------------------------------------- mirrors


def mirror_list(cli_mirrors):
    """Every mirror to try, in order: --mirror URLs, then those in $MNIST_MIRROR (separated by spaces), then
    BUILTIN_MIRRORS. Raises KitError naming a URL that is not http://, https:// or file://."""
    given = [(url, "--mirror") for url in cli_mirrors or []]
    given += [(url, MIRROR_VARIABLE) for url in os.environ.get(MIRROR_VARIABLE, "").split()]
    for url, source in given:
        parsed = urlparse(url)
        usable = parsed.scheme == "file" or (parsed.scheme in ("http", "https") and parsed.netloc)
        if not usable:
            raise KitError(
                f"The mirror {url!r} (from {source}) is not a URL the kit can download from: a mirror is a base URL "
                "starting with http://, https:// or file://, for example --mirror https://example.org/mnist/"
            )
    return list(dict.fromkeys([url for url, _ in given] + BUILTIN_MIRRORS))  # without repeats, order kept


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
    data_dir = Path(data_dir).resolve()
    checked_before = read_stamp(data_dir)
    stamp = {}  # rewritten from scratch: only the copies verified (again) during this run
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        missing = [name for name in FILES if not keep_verified_copies(data_dir, name, checksums, checked_before, stamp)]
        failures = download_missing(missing, data_dir, mirrors, timeout, checksums, stamp) if missing else []
    except OSError as exc:  # network errors are handled mirror by mirror; what reaches here is the local disk
        raise KitError(f"Cannot use the data folder {data_dir}: {exc}") from None
    finally:
        write_stamp(data_dir, stamp)  # even after Ctrl-C, so the files finished so far are not checked again
    still_missing = [name for name in FILES if name not in stamp and name + ".gz" not in stamp]
    if still_missing:
        raise KitError(nothing_worked_message(data_dir, still_missing, failures))


def keep_verified_copies(data_dir, name, checksums, checked_before, stamp):
    """Check the copies of one file already in data_dir (`name` and `name.gz`): record the good ones in stamp,
    remove the bad ones. True when at least one good copy is there. A copy that the stamp of an earlier run
    vouches for, unchanged since, is not read again."""
    found = False
    for path in (data_dir / name, data_dir / (name + ".gz")):
        if not path.is_file():
            continue
        if not stamp_matches(checked_before, path, checksums[name]):
            problem = verification_problem(path.read_bytes(), checksums[name])
            if problem:
                path.unlink()
                say(f"Removed {path}: {problem}.")
                continue
        record_in_stamp(stamp, path, checksums[name])
        found = True
    return found


def verification_problem(blob, expected_sha):
    """None when blob (a file as stored: gzip-compressed or not) holds the expected contents; else why not."""
    try:
        contents = decompressed(blob)
    except zlib.error as exc:
        return f"not a complete gzip file ({exc})"
    if contents[:3] != b"\x00\x00\x08":
        return "not an MNIST file (a server may have sent an error or login page instead)"
    if hashlib.sha256(contents).hexdigest() != expected_sha:
        return "its contents differ from the published MNIST file (SHA-256 mismatch)"
    return None


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


# ---------------------------------------------------------------------------------------------------- stamp


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
    tmp = data_dir / (STAMP_NAME + ".tmp")
    try:
        tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, data_dir / STAMP_NAME)
    except OSError:
        pass  # the stamp only saves time; without it the files are verified again next run


# ---------------------------------------------------------------------------------------------------- download


class FetchFailed(Exception):
    """One attempt to fetch one file from one mirror failed; str() is the short reason shown to the user.

    retry        worth trying the same URL again after a pause (a timeout, a connection cut mid-way, a 5xx)
    unreachable  the mirror cannot be reached at all (DNS, refused, TLS): not worth trying again
    """

    def __init__(self, reason, *, retry=False, unreachable=False):
        super().__init__(reason)
        self.retry = retry
        self.unreachable = unreachable


def download_missing(names, data_dir, mirrors, timeout, checksums, stamp):
    """Fetch each file in names from the first mirror that delivers it verified. Returns the failures, as
    "url: reason" lines, for the message shown if some file could not be obtained."""
    failures = []
    given_up = set()
    with requests.Session() as session:
        session.headers.update(HEADERS)
        for name in names:
            for mirror in mirrors:
                if mirror in given_up:
                    continue
                url = mirror.rstrip("/") + "/" + name + ".gz"
                try:
                    path = fetch_with_retries(session, url, data_dir, name, checksums[name], timeout)
                except FetchFailed as failure:
                    failures.append(f"{url}: {failure}")
                    say(f"  failed: {failure}")
                    # A mirror that cannot be reached, or still fails after the retries, would only make the user
                    # wait again for the next file. One missing a file (404) or serving a bad one may have the others.
                    if failure.unreachable or failure.retry:
                        given_up.add(mirror)
                    continue
                record_in_stamp(stamp, path, checksums[name])
                break
    return failures


def fetch_with_retries(session, url, data_dir, name, expected_sha, timeout):
    """fetch_verified, tried again after RETRY_DELAYS when the failure may be temporary."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return fetch_verified(session, url, data_dir, name, expected_sha, timeout)
        except FetchFailed as failure:
            if not failure.retry or delay is None:
                raise
            say(f"  {failure}; trying again in {delay:g} s")
            time.sleep(delay)


def fetch_verified(session, url, data_dir, name, expected_sha, timeout):
    """Download url to a temporary file in data_dir, verify it, and rename it to its final name, which is
    `name.gz` if the bytes are gzip-compressed and `name` if not. Returns the final path; raises FetchFailed.
    The temporary file is removed whatever happens, Ctrl-C included."""
    say(f"{'Copying' if url.startswith('file:') else 'Downloading'} {url}")
    tmp = data_dir / (name + ".gz.part")
    try:
        if url.startswith("file:"):
            copy_local_file(url, tmp)
        else:
            download(session, url, tmp, timeout, label=name + ".gz")
        blob = tmp.read_bytes()
        problem = verification_problem(blob, expected_sha)
        if problem:
            raise FetchFailed(problem)
        if blob[:2] == GZIP_MAGIC and gunzip(blob)[:2] == GZIP_MAGIC:
            blob = gunzip(blob)  # a server compressed the .gz once more on the way: keep the .gz itself
            tmp.write_bytes(blob)
        final = data_dir / (name + ".gz" if blob[:2] == GZIP_MAGIC else name)
        os.replace(tmp, final)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def copy_local_file(url, tmp):
    """A file:// mirror is a folder on this computer (or a shared drive)."""
    source = Path(url2pathname(urlparse(url).path))
    if not source.parent.is_dir():
        raise FetchFailed(f"no folder {source.parent}", unreachable=True)
    try:
        src = open(source, "rb")
    except OSError as exc:
        raise FetchFailed(f"cannot read it ({exc.strerror})") from None
    with src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)


def download(session, url, tmp, timeout, label):
    """Stream url into the file tmp, with a progress bar. Raises FetchFailed with a short reason.

    The bytes are written exactly as the server sent them (decode_content=False): a server that labels the
    .gz file `Content-Encoding: gzip` would otherwise have it decompressed on the way, under a .gz name."""
    connect_timeout, read_timeout = timeout
    try:
        response = session.get(url, stream=True, timeout=timeout)
    except requests.exceptions.ConnectTimeout:
        raise FetchFailed(f"could not connect within {connect_timeout:g} s", unreachable=True) from None
    except requests.exceptions.ReadTimeout:
        raise FetchFailed(f"no answer within {read_timeout:g} s", retry=True) from None
    except requests.exceptions.ProxyError as exc:  # set by HTTP_PROXY / HTTPS_PROXY, or the system's settings
        raise FetchFailed(f"proxy: {connection_problem(exc)}", unreachable=True) from None
    except requests.exceptions.SSLError:
        raise FetchFailed("TLS/SSL error (a proxy or firewall may be in the way)", unreachable=True) from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchFailed(connection_problem(exc), unreachable=True) from None
    except requests.exceptions.RequestException as exc:
        raise FetchFailed(f"request failed ({type(exc).__name__})", unreachable=True) from None
    with response:
        if response.status_code != 200:
            reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
            raise FetchFailed(reason, retry=response.status_code >= 500)
        expected_size = int(response.headers.get("Content-Length", 0)) or None
        received = stream_to_file(response, tmp, expected_size, read_timeout, label)
    if expected_size and received < expected_size:
        raise FetchFailed(f"download cut short ({received:,} of {expected_size:,} bytes)", retry=True)


def stream_to_file(response, tmp, expected_size, read_timeout, label):
    """Write the body of response into tmp as it arrives; returns the number of bytes received."""
    received = 0
    bar = tqdm(
        total=expected_size, desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
        disable=not sys.stderr.isatty(),  # no bar in a log file or a test; say() prints one line instead
    )
    try:
        with bar, open(tmp, "wb") as out:
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchFailed(f"the server stopped sending (nothing for {read_timeout:g} s)", retry=True) from None
    except urllib3.exceptions.ProtocolError as exc:
        if "IncompleteRead" in str(exc):
            size = f"{expected_size:,} bytes" if expected_size else "the whole file"
            raise FetchFailed(f"download cut short (got {received:,} of {size})", retry=True) from None
        raise FetchFailed("connection broken during the download", retry=True) from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"download failed ({type(exc).__name__})", retry=True) from None
    return received


def connection_problem(exc):
    """A few words on why a connection could not be made, from the text of the error requests raised."""
    text = str(exc)
    if "NameResolution" in text or "getaddrinfo" in text:
        return "host name not found (DNS)"
    errno_text = re.search(r"\[(?:Errno|WinError) -?\d+\] ([^'\"()]+)", text)
    return f"cannot connect ({errno_text.group(1).strip()})" if errno_text else "cannot connect"


def nothing_worked_message(data_dir, missing, failures):
    tried = "\n".join(f"  {line}" for line in failures) or "  (no mirror was tried)"
    names = "\n".join(f"  {name}.gz" for name in FILES)
    return (
        f"Could not download {'MNIST' if len(missing) == len(FILES) else ', '.join(missing)}. Tried:\n{tried}\n"
        f"Put the four files (.gz, or uncompressed without .gz) by hand into\n  {data_dir}\n"
        f"named:\n{names}\n"
        "then run again; they are checked by SHA-256, so any copy of the official files works.\n"
        "Or try another mirror: --mirror URL (a base URL serving those four files; file:///folder works too), "
        f"or set {MIRROR_VARIABLE}."
    )


def say(line):
    """Progress goes to stderr: stdout is kept for results."""
    print(line, file=sys.stderr, flush=True)


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
