"""The messages between the grader and the student's process, and their limits: FRAME (the lengths of the JSON
header and of the bytes after it), the header (it lists its buffers' lengths), the buffers (the arrays' bytes).
Both sides use it; the student's side below blocks and trusts the grader, the grader's (process.py) does neither.
"""

import json
import os
import struct

FRAME = struct.Struct(">II")  # every message: the length of its JSON header, the length of the bytes after it
MAX_HEADER = 8 << 20  # bytes of JSON in one message
MAX_PAYLOAD = 64 << 20  # bytes of array data in one message
MAX_DEPTH = 16  # nesting of lists, tuples and dicts
MAX_ITEMS = 100_000  # values in one reply
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the arrays that may cross
MODULE_HANDLE = 0  # the handle of the student's module


def pack(header, buffers=()):
    """One message: FRAME, then the header as JSON (it lists the buffers' lengths), then the buffers."""
    buffers = [bytes(buffer) for buffer in buffers]
    head = json.dumps(dict(header, buffers=[len(b) for b in buffers]), separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), sum(len(b) for b in buffers)) + head + b"".join(buffers)


def split_payload(payload, lengths):
    """The buffers of a message, given the lengths its header lists."""
    buffers, start = [], 0
    for length in lengths:
        buffers.append(payload[start:start + length])
        start += length
    return buffers


def read_exactly(fd, count):
    chunks = []
    while count:
        chunk = os.read(fd, min(count, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the channel")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def receive(fd):
    """The next request from the grader: (header, buffers). The grader is trusted: no checks."""
    head_length, payload_length = FRAME.unpack(read_exactly(fd, FRAME.size))
    header = json.loads(read_exactly(fd, head_length))
    return header, split_payload(read_exactly(fd, payload_length), header["buffers"])


def send(fd, header, buffers=()):
    data = memoryview(pack(header, buffers))
    while data:
        data = data[os.write(fd, data):]
