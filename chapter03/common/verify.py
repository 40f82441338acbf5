"""MNIST's four files, their published checksums, and how a copy is verified.

A file counts only when the SHA-256 of its decompressed bytes is the published one: a half-downloaded file, a login
page saved under the file's name, or a file mangled by a proxy is caught here, with a clear message.
"""

import hashlib
import struct
import zlib

from coursekit.i18n import say

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# SHA-256 of the decompressed files, as published (the .gz bytes differ between mirrors, their contents do not).
PUBLISHED_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
GZIP_MAGIC = b"\x1f\x8b"


def identify(blob, checksums):
    """(name, None) when blob (a file as stored: gzip-compressed or not) holds the file `name` of checksums;
    (None, why not) otherwise."""
    try:
        contents = decompressed(blob)
    except zlib.error as exc:
        return None, say(f"not a complete gzip file ({exc})", f"不是完整的 gzip 文件（{exc}）")
    if contents[:3] != b"\x00\x00\x08":
        return None, say("not an MNIST file (a server may have sent an error or login page instead)",
                         "不是 MNIST 文件（服务器可能发来了错误页面或登录页面）")
    sha = hashlib.sha256(contents).hexdigest()
    for name, expected in checksums.items():
        if sha == expected:
            return name, None
    return None, say("its contents differ from the published MNIST files (SHA-256 mismatch)",
                     "内容与公布的 MNIST 文件不同（SHA-256 不符）")


def decompressed(blob):
    """The IDX bytes inside blob: gzip layers peeled off (none if stored uncompressed; a misconfigured server may add
    a second one). IDX files start with two zero bytes, never with the gzip magic number 1f 8b."""
    while blob[:2] == GZIP_MAGIC:
        blob = gunzip(blob)
    return blob


def gunzip(blob):
    """Decompress a one-member gzip file; zlib.error if damaged. Its last 4 bytes hold the decompressed size: a buffer
    of that size from the start keeps one copy of the 47 MB of training images in memory, not two (capped)."""
    size = struct.unpack("<I", blob[-4:])[0] if len(blob) >= 4 else 1
    return zlib.decompress(blob, wbits=31, bufsize=min(max(size, 1), 64 * 2**20))
