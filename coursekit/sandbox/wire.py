"""The messages between the grader and the student's process, and the values they carry: numbers, text, arrays of
numbers, lists, tuples and dicts of these, NumPy dtypes, and references to objects that stay on one side. A message
is FRAME, a JSON header that lists its buffers' lengths, then the buffers (arrays' bytes). Both sides run this file;
decode checks every node, as the grader trusts nothing the student's process sends.
"""

import functools
import json
import os
import re
import struct

FRAME = struct.Struct(">II")  # every message: the length of its JSON header, the length of the bytes after it
MAX_PAYLOAD = 64 << 20  # bytes of array data in one message
MAX_DEPTH = 16  # nesting of lists, tuples and dicts in one value
MAX_ITEMS = 100_000  # nodes in one value
MAX_TEXT = 2000  # characters kept of a string
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the arrays that may cross
DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
MODULE_HANDLE = 0  # the handle of the student's module


class Malformed(Exception):
    """What the student's process sent is not a valid message."""


def cut(text, limit=MAX_TEXT):
    return text if len(text) <= limit else text[:limit] + " [...]"


def pack(header, buffers=()):
    buffers = [bytes(buffer) for buffer in buffers]
    head = json.dumps(dict(header, buffers=[len(b) for b in buffers]), separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), sum(len(b) for b in buffers)) + head + b"".join(buffers)


def split_payload(payload, lengths):
    buffers, start = [], 0
    for length in lengths:
        buffers.append(payload[start:start + length])
        start += length
    return buffers


def read_exactly(read, count):
    """count bytes from read(n), a function that returns at most n bytes, b"" at the end (EOFError)."""
    chunks = []
    while count:
        chunk = read(min(count, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def receive(fd):
    """The next request from the grader, on the student's side, which trusts it: (header, buffers)."""
    read = functools.partial(os.read, fd)
    head_length, payload_length = FRAME.unpack(read_exactly(read, FRAME.size))
    header = json.loads(read_exactly(read, head_length))
    return header, split_payload(read_exactly(read, payload_length), header["buffers"])


def send(fd, header, buffers=()):
    data = memoryview(pack(header, buffers))
    while data:
        data = data[os.write(fd, data):]


def encode(value, out, other):
    """value as JSON, its arrays' bytes appended to out; other(value) for anything else (a reference, or an error)."""
    import numpy as np

    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in NUMERIC_KINDS and not value.dtype.fields:
        out.append(np.ascontiguousarray(value).tobytes())
        return {"$": "array" if isinstance(value, np.ndarray) else "scalar", "dtype": value.dtype.str,
                "shape": list(value.shape), "buffer": len(out) - 1}
    if isinstance(value, np.dtype) and value.kind in NUMERIC_KINDS and not value.fields:
        return {"$": "dtype", "dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic) and np.dtype(value).kind in NUMERIC_KINDS:
        return {"$": "type", "dtype": np.dtype(value).str}
    if type(value) in (list, tuple):
        return {"$": type(value).__name__, "items": [encode(item, out, other) for item in value]}
    if type(value) is dict and all(key is None or type(key) in (bool, int, float, str) for key in value):
        return {"$": "dict", "items": [[key, encode(item, out, other)] for key, item in value.items()]}
    return other(value)


def checked_list(value, limit=MAX_ITEMS):
    if type(value) is not list or len(value) > limit:
        raise Malformed("an invalid list")
    return value


def decode(node, buffers, other):
    """The value a node describes, checked at every node (Malformed); other(node) for the nodes "ref" (an object of
    this side) and "generator"."""
    import numpy as np

    count = [0]  # nodes decoded

    def dtype_of(text):
        if type(text) is not str or not DTYPE.fullmatch(text):
            raise Malformed("an invalid dtype")
        try:
            dtype = np.dtype(text)
        except TypeError:
            raise Malformed("an unknown dtype") from None
        if dtype.kind not in NUMERIC_KINDS or dtype.fields:
            raise Malformed("a dtype that is not numeric")
        return dtype

    def value(node, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
            raise Malformed("a value nested too deep or too large")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is str:
            return cut(node)
        tag = node.get("$") if type(node) is dict else None
        if tag in ("array", "scalar"):
            dtype, index = dtype_of(node.get("dtype")), node.get("buffer")
            if not (type(index) is int and 0 <= index < len(buffers)):
                raise Malformed("an array without its data")
            shape = [1] if tag == "scalar" else checked_list(node.get("shape"), 32)
            if not all(type(n) is int and 0 <= n <= MAX_PAYLOAD for n in shape):
                raise Malformed("an invalid shape")
            if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(buffers[index]):
                raise Malformed("an array whose data does not match its shape")
            array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
            return array[0] if tag == "scalar" else array
        if tag in ("dtype", "type"):
            dtype = dtype_of(node.get("dtype"))
            return dtype if tag == "dtype" else dtype.type
        if tag in ("list", "tuple"):
            items = [value(item, depth + 1) for item in checked_list(node.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = checked_list(node.get("items"))
            if not all(type(pair) is list and len(pair) == 2 and type(pair[0]) in (type(None), bool, int, float, str)
                       for pair in pairs):
                raise Malformed("a dict with invalid keys")
            return {value(key, depth + 1): value(item, depth + 1) for key, item in pairs}
        if tag in ("ref", "generator"):
            return other(node)
        raise Malformed(f"an unknown kind of value {str(tag)[:40]!r}" if tag else f"a bare {type(node).__name__}")

    return value(node, 0)
